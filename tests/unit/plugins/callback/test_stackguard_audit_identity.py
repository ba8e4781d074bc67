"""The stackguard_audit callback records the checkout commit preflight judged (preflight_commit)
and the run's change ticket, in real `ansible-playbook` runs on localhost."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from ansible.module_utils.audit import run_identity

REPO = Path(__file__).resolve().parents[4]
PLAYBOOK_BIN = REPO / ".venv" / "bin" / "ansible-playbook"
COMMIT = "feedc0de" * 5

pytestmark = pytest.mark.skipif(not PLAYBOOK_BIN.exists(),
                                reason=f"{PLAYBOOK_BIN} is not installed (make toolchain)")

PLAYBOOK = [
    {"name": "Before preflight", "hosts": "localhost", "connection": "local", "gather_facts": False,
     "tasks": [{"name": "ok", "ansible.builtin.debug": {"msg": "nothing recorded yet"}}]},
    {"name": "Preflight", "hosts": "localhost", "connection": "local", "gather_facts": False,
     "tasks": [{"name": "Record the commit", "ansible.builtin.set_fact": {"preflight_commit": COMMIT}}]},
    {"name": "After preflight", "hosts": "localhost", "connection": "local", "gather_facts": False,
     "tasks": [{"name": "ok", "ansible.builtin.debug": {"msg": "deploying"}}]},
]


def _audit(tmp_path, *extra):
    playbook = tmp_path / "audited.yml"
    playbook.write_text(json.dumps(PLAYBOOK), encoding="utf-8")  # JSON is YAML
    log = tmp_path / "audit.jsonl"
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CALLBACKS_ENABLED="stackguard_audit", STACKGUARD_AUDIT_LOG=str(log),
               ANSIBLE_CACHE_PLUGIN="memory", ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
               PATH=f"{REPO / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run([str(PLAYBOOK_BIN), "-i", "localhost,", str(playbook), *extra], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "stackguard_audit" not in proc.stderr, proc.stderr
    return [json.loads(line)["what"] for line in log.read_text().splitlines()]


def test_the_commit_preflight_recorded_and_the_change_ticket(tmp_path):
    before, during, after = _audit(tmp_path, "-e", "change_ticket=CHG-1234")
    assert before["commit"] is None  # tmp_path is no checkout, and preflight has not run yet
    assert during["commit"] == after["commit"] == COMMIT
    assert before["change_ticket"] == during["change_ticket"] == after["change_ticket"] == "CHG-1234"


def test_no_change_ticket_no_field(tmp_path):
    records = _audit(tmp_path)
    assert [("change_ticket" in what) for what in records] == [False, False, False]


def test_run_identity_prefers_the_confirmed_ticket_and_the_preflight_commit():
    values = {"preflight_commit": "abc", "preflight_change_ticket_confirmed": "CHG-2", "change_ticket": "CHG-1"}
    assert run_identity(lambda name, *path: values.get(name), {"commit": "def"}) == {
        "commit": "abc", "change_ticket": "CHG-2"}
    assert run_identity(lambda name, *path: {"change_ticket": ""}.get(name), {"commit": "def"}) == {
        "commit": "def", "change_ticket": None}
