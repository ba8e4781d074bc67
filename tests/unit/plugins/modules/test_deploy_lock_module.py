"""The deploy_lock module through real Ansible (`ansible localhost -m deploy_lock`).

Each case has its own lock path under a temporary directory, set up beforehand (no lock, or a lock
held by run-a); the runs start together, once per test module.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from ansible.module_utils.deploy_lock import acquire
from tests.unit.ansible_adhoc import ANSIBLE, ansible

pytestmark = pytest.mark.skipif(not ANSIBLE.exists(), reason="ansible is not installed next to this Python")

A = {"owner": "alice@laptop", "run_id": "run-a", "controller_host": "laptop", "controller_pid": 4242}
B = {"owner": "bob@desk", "run_id": "run-b", "controller_host": "desk", "controller_pid": 77}

CASES = {
    # name: (held by run-a before, args, flags)
    "create": (False, {**A, "ttl": 600}, ()),
    "held": (True, B, ()),
    "force": (True, {**B, "force": True}, ()),
    "absent": (True, {"state": "absent", "run_id": "run-a"}, ()),
    "absent-other": (True, {"state": "absent", "run_id": "run-b"}, ()),
    "query": (True, {"state": "query"}, ()),
    "check": (False, A, ("--check",)),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    specs = {}
    for name, (held, args, flags) in CASES.items():
        path = tmp_path_factory.mktemp(name) / "lib" / "deploy.lock"
        before = acquire(str(path), **A)["holder"] if held else None
        specs[name] = (path, before, {"path": str(path), **args}, flags)
    with ThreadPoolExecutor(max_workers=len(specs)) as pool:
        futures = {name: pool.submit(ansible, "deploy_lock", args, *flags)
                   for name, (_, _, args, flags) in specs.items()}
        return {name: (*futures[name].result(), specs[name][0], specs[name][1]) for name in specs}


def lock_of(path):
    return json.loads(path.read_text())


def test_present_creates_the_lock(runs):
    rc, host, path, _ = runs["create"]
    assert rc == 0, host.get("msg")
    assert host["changed"] is True and host["took_over"] is None
    assert host["holder"] == lock_of(path)
    assert {k: lock_of(path)[k] for k in A} == A
    assert set(lock_of(path)) == {*A, "acquired_at", "expires_at"}
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_present_held_by_another_run_fails(runs):
    rc, host, path, before = runs["held"]
    assert rc != 0 and host["failed"] is True and host["changed"] is False
    assert host["msg"] == (f"deploy lock held by alice@laptop (run run-a, from laptop pid 4242) "
                           f"since {before['acquired_at']}, until {before['expires_at']}; wait, or "
                           "rerun with -e force_unlock=true if that run is dead")
    assert host["holder"] == before == lock_of(path)


def test_force_takes_it_over(runs):
    rc, host, path, before = runs["force"]
    assert rc == 0, host.get("msg")
    assert host["changed"] is True and host["took_over"] == "forced"
    assert host["previous_holder"] == before
    assert lock_of(path)["run_id"] == "run-b"


def test_absent_releases_our_lock(runs):
    rc, host, path, _ = runs["absent"]
    assert rc == 0, host.get("msg")
    assert host["changed"] is True and host["holder"] is None and not path.exists()


def test_absent_refuses_another_runs_lock(runs):
    rc, host, path, before = runs["absent-other"]
    assert rc != 0 and "not releasing another run's lock" in host["msg"]
    assert lock_of(path) == before


def test_query(runs):
    rc, host, path, before = runs["query"]
    assert rc == 0 and host["changed"] is False
    assert host["holder"] == before and host["expired"] is False


def test_check_mode_writes_nothing(runs):
    rc, host, path, _ = runs["check"]
    assert rc == 0, host.get("msg")
    assert host["changed"] is True and host["holder"]["run_id"] == "run-a"
    assert not path.parent.exists()

