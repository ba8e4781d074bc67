"""The stackguard_audit callback, enabled in a real `ansible-playbook` run on localhost.

One run of a two-play playbook: one JSON line per play, with who/what/when and each host's counts,
and the play's secret (a vault_* var, also printed by a task and set as a fact) nowhere in the log.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]
PLAYBOOK_BIN = REPO / ".venv" / "bin" / "ansible-playbook"

pytestmark = pytest.mark.skipif(not PLAYBOOK_BIN.exists(),
                                reason=f"{PLAYBOOK_BIN} is not installed (make toolchain)")

PLAYBOOK = [
    {"name": "Audited play", "hosts": "localhost", "connection": "local", "gather_facts": False,
     "vars": {"vault_database_app_password": "s3cret", "stackguard_environment": "testenv",
              "database_app_password": "{{ vault_database_app_password }}",
              "stackguard_app_release": {"version": "1.4.2", "sha256": "s3cret"},
              "stackguard_stack": {"name": "php74-apache24", "revision": 1}},
     "tasks": [
         {"name": "ok", "ansible.builtin.debug": {"msg": "{{ database_app_password }}"}},
         {"name": "changed", "ansible.builtin.command": "true"},
         {"name": "ignored failure", "ansible.builtin.fail": {"msg": "no"}, "ignore_errors": True},
         {"name": "skipped", "ansible.builtin.debug": {"msg": "x"}, "when": False},
         {"name": "manifest", "ansible.builtin.set_fact": {"preflight_stack_manifests": {
             "php74-apache24@1": {"name": "php74-apache24", "revision": 1, "digest": "sha256:abc",
                                  "password": "s3cret"},
             "php82-apache24@1": {"name": "php82-apache24", "revision": 1, "digest": "sha256:def"}}}},
     ]},
    # The pin is the inventory's in a real run, so every play has it; the manifests are a fact.
    {"name": "Failing play", "hosts": "localhost", "connection": "local", "gather_facts": False,
     "vars": {"stackguard_stack": {"name": "php74-apache24", "revision": 1}},
     "tasks": [{"name": "fails", "ansible.builtin.fail": {"msg": "s3cret"}}]},
]


def test_one_json_line_per_play_without_secrets(tmp_path):
    playbook = tmp_path / "audited.yml"
    playbook.write_text(json.dumps(PLAYBOOK, indent=2), encoding="utf-8")  # JSON is YAML
    log = tmp_path / "state" / "audit.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_RUN_ID", "CI_PIPELINE_ID")}
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CALLBACKS_ENABLED="stackguard_audit",
               ANSIBLE_CALLBACK_PLUGINS=str(REPO / "plugins" / "callback"),
               STACKGUARD_AUDIT_LOG=str(log), STACKGUARD_CI_RUN_ID="run-77",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
               PATH=f"{REPO / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run([str(PLAYBOOK_BIN), "-i", "localhost,", str(playbook)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr  # the second play fails, on purpose
    assert "stackguard_audit" not in proc.stderr, proc.stderr  # no warning from the callback

    text = log.read_text(encoding="utf-8")
    assert "s3cret" not in text
    lines = text.splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)

    assert first["who"]["ci_run_id"] == "run-77"
    assert first["who"]["user"] and first["who"]["controller_host"]
    what = first["what"]
    assert what["playbook"] == str(playbook)  # outside the cwd: absolute
    assert what["play"] == "Audited play"
    assert what["environment"] == "testenv"
    assert what["release"] == "1.4.2"
    assert what["stack"] == {"name": "php74-apache24", "revision": 1, "digest": "sha256:abc"}
    assert what["commit"] is None and what["dirty"] is None  # tmp_path is not a git checkout
    when = first["when"]
    assert when["started"].endswith("Z") and when["ended"] >= when["started"] and when["seconds"] >= 0
    assert first["hosts"] == {"localhost": {"ok": 4, "changed": 1, "failed": 0, "unreachable": 0,
                                            "skipped": 1}}
    assert first["totals"] == {"ok": 4, "changed": 1, "failed": 0, "unreachable": 0, "skipped": 1,
                               "hosts": 1}

    assert second["what"]["play"] == "Failing play"
    assert second["hosts"]["localhost"]["failed"] == 1 and second["totals"]["failed"] == 1
    assert second["what"]["environment"] is None
    assert second["what"]["stack"]["digest"] == "sha256:abc"  # the fact outlives its play
