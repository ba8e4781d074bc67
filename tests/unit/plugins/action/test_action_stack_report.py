"""The stack_report action plugin, driven for real through `ansible-playbook` with the repo's config.

Hosts are local; each registers a stack_verify-shaped result with set_fact (the module itself is
tested against real hosts in tests/unit/plugins/modules/test_stack_verify.py and the drift
scenario). The json stdout callback gives the report task's result.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[4]
PLAYBOOK_BIN = REPO / ".venv" / "bin" / "ansible-playbook"

pytestmark = pytest.mark.skipif(not PLAYBOOK_BIN.exists(),
                                reason=f"{PLAYBOOK_BIN} is not installed (make toolchain)")

IN_SYNC = {"in_sync": True, "summary": "in sync with php74-apache24@1", "drift": []}
DRIFTS = {"in_sync": False, "summary": "1 drift item from php74-apache24@1",
          "drift": [{"kind": "hold", "name": "apache2", "expected": "held", "actual": "not held"}]}


def _run(tmp_path, results, report_file="", check=False):
    """ansible-playbook over local hosts whose results are `results` ({host: result or None});
    (rc, the report task's result)."""
    hosts = {host: {"ansible_connection": "local", "ansible_python_interpreter": "auto_silent"}
             for host in results}
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}, sort_keys=False))  # the play order
    play = {"name": "Report", "hosts": "all", "gather_facts": False, "tasks": [
        {"name": "Result", "ansible.builtin.set_fact": {"verify_stack_result": "{{ results[inventory_hostname] }}"},
         "when": "results[inventory_hostname] is not none"},
        {"name": "Report", "stack_report": {"report_file": report_file}, "run_once": True,
         "delegate_to": "localhost"}],
        "vars": {"results": results}}
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([play], sort_keys=False))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "CI", "GITHUB_"))}
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    argv = [str(PLAYBOOK_BIN), "-i", str(inventory), str(playbook)] + (["--check"] if check else [])
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    tasks = json.loads(proc.stdout)["plays"][0]["tasks"]
    report_task = next(task for task in tasks if task["task"]["name"] == "Report")
    return proc.returncode, next(iter(report_task["hosts"].values()))


def test_a_fleet_in_sync_prints_a_line_per_host_and_passes(tmp_path):
    rc, result = _run(tmp_path, {"web1": IN_SYNC, "web2": IN_SYNC})
    assert rc == 0, result
    assert result["msg"] == ["web1: in sync with php74-apache24@1", "web2: in sync with php74-apache24@1"]
    assert result["drifted"] == [] and result["changed"] is False


def test_a_drifting_host_and_a_host_without_result_fail_the_run_and_are_written(tmp_path):
    path = tmp_path / "out" / "report.json"
    path.parent.mkdir()
    rc, result = _run(tmp_path, {"web1": IN_SYNC, "web2": DRIFTS, "db1": None}, str(path), check=True)
    assert rc == 2
    assert result["failed"] is True and result["drifted"] == ["web2", "db1"]
    assert result["msg"].startswith("2 of 3 hosts drift: web2 (hold apache2); db1 (not checked: "
                                    "the host gave no result). Report: web1: in sync")
    # written in check mode too: the report is the output of a read-only check
    report = json.loads(path.read_text(encoding="utf-8"))
    assert report["web2"] == DRIFTS and report["db1"]["in_sync"] is False


def test_a_report_file_that_cannot_be_written_fails_with_the_reason(tmp_path):
    rc, result = _run(tmp_path, {"web1": IN_SYNC}, str(tmp_path / "missing" / "report.json"))
    assert rc == 2
    assert result["msg"].startswith(f"cannot write the report to {tmp_path}/missing/report.json: ")
