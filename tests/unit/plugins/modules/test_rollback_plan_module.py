"""The rollback_plan module through real Ansible: the lock it takes, and that a refusal gives it back.

(The choice and the compatibility check are test_rollback_plan's; a whole rollback on real hosts is
the rollback Molecule scenario's.)
"""

from __future__ import annotations

import json

import pytest

from tests.unit.ansible_adhoc import ANSIBLE, ansible
from tests.unit.plugins.module_utils.test_rollback_plan import record

pytestmark = pytest.mark.skipif(not ANSIBLE.exists(), reason="ansible is not installed next to this Python")


def args(tmp_path, rollback_to="", run_id="laptop-1-1", **lock):
    return {"root": str(tmp_path / "app"), "state_file": str(tmp_path / "releases.json"),
            "rollback_to": rollback_to, "label": "web1",
            "lock": {"path": str(tmp_path / "deploy.lock"), "owner": "alice@laptop",
                     "run_id": run_id, "controller_host": "laptop", **lock}}


@pytest.fixture
def host(tmp_path):
    (tmp_path / "app" / "releases" / "1.0.0").mkdir(parents=True)  # pruned: no composer.json
    (tmp_path / "releases.json").write_text(json.dumps(record("1.1.0", "1.1.0", v1_0_0="good",
                                                              v1_1_0="good")))
    return tmp_path


def test_a_refusal_gives_the_lock_back(host):
    rc, result = ansible("rollback_plan", args(host))
    assert rc != 0
    assert "release 1.0.0 is no longer on web1" in result["msg"] and result["target"] == "1.0.0"
    assert result["lock"]["holder"]["run_id"] == "laptop-1-1"  # it was taken ...
    assert not (host / "deploy.lock").exists()  # ... and given back


def test_another_runs_lock_is_refused_before_anything_is_read(host):
    (host / "deploy.lock").write_text(json.dumps({
        "owner": "bob@ci", "run_id": "ci-9-9", "controller_host": "ci", "controller_pid": 9,
        "acquired_at": "2099-01-01T00:00:00Z", "expires_at": "2099-01-01T00:30:00Z"}))
    rc, result = ansible("rollback_plan", args(host, rollback_to="1.1.0"))
    assert rc != 0 and "bob@ci" in result["msg"] and "target" not in result
    assert json.loads((host / "deploy.lock").read_text())["run_id"] == "ci-9-9"


def test_check_mode_writes_no_lock(host):
    rc, result = ansible("rollback_plan", args(host), "--check")
    assert rc != 0 and "no longer on web1" in result["msg"]
    assert not (host / "deploy.lock").exists()
