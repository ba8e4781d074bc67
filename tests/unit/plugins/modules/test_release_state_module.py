"""The release_state module through real Ansible (`ansible localhost -m release_state`).

Each case has its own state file (and, for prune, app root) under a temporary directory, set up
beforehand with the module_utils code; the runs start together, once per test module.
"""

from __future__ import annotations

import datetime
import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from ansible.module_utils.deploy_lock import acquire
from ansible.module_utils.release_state import run
from tests.unit.ansible_adhoc import ANSIBLE, ansible

pytestmark = pytest.mark.skipif(not ANSIBLE.exists(), reason="ansible is not installed next to this Python")

T0 = datetime.datetime(2024, 5, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


def history(path, *steps):
    for minutes, (action, version) in enumerate(steps):
        run(path, action, version, reason="r" if action == "bad" else None,
            now=T0 + datetime.timedelta(minutes=minutes))


def setup_nothing(base, path):
    pass


def setup_one_deployed(base, path):
    history(path, ("deployed", "1.0.0"))


def setup_bad(base, path):
    history(path, ("deployed", "1.0.0"), ("good", "1.0.0"), ("deployed", "1.1.0"),
            ("good", "1.1.0"))


def setup_prune(base, path):
    root = base / "app"
    for version in ("1.0.0", "1.1.0", "1.2.0", "1.3.0.partial"):
        (root / "releases" / version).mkdir(parents=True)
    os.symlink("releases/1.0.0", root / "current")  # rolled back
    history(path, ("deployed", "1.0.0"), ("deployed", "1.1.0"), ("deployed", "1.2.0"))


def setup_locked(base, path):
    """Deployed by run-a, which holds the deploy lock beside the state file."""
    history(path, ("deployed", "1.0.0"))
    acquire(os.path.join(os.path.dirname(path), "deploy.lock"), "alice@laptop", "run-a")


def setup_corrupt(base, path):
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as handle:
        handle.write("{\"current\": \"1.0.0\",")


CASES = {
    # name: (setup, args, flags)
    "deployed": (setup_nothing, {"action": "deployed", "version": "1.0.0"}, ()),
    "bad": (setup_bad, {"action": "bad", "version": "1.1.0", "reason": "healthz: 503"}, ()),
    "query": (setup_nothing, {}, ()),
    "prune": (setup_prune, {"action": "prune", "keep": 1}, ()),
    "corrupt": (setup_corrupt, {"action": "deployed", "version": "1.0.0"}, ()),
    "check": (setup_one_deployed, {"action": "good", "version": "1.0.0"}, ("--check",)),
    "good-unlock": (setup_locked, {"action": "good", "version": "1.0.0", "unlock": "run-a"}, ()),
    "good-unlock-other": (setup_locked, {"action": "good", "version": "1.0.0", "unlock": "run-b"}, ()),
    "check-unlock": (setup_locked, {"action": "good", "version": "1.0.0", "unlock": "run-a"}, ("--check",)),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    specs = {}
    for name, (setup, args, flags) in CASES.items():
        base = tmp_path_factory.mktemp(name)
        path = base / "lib" / "releases.json"
        setup(base, str(path))
        before = path.read_text() if path.exists() else None
        args = {"path": str(path), **args}
        if name == "prune":
            args["root"] = str(base / "app")
        if "unlock" in args:  # the run id that releases the lock beside the state file
            args["unlock"] = {"path": str(path.parent / "deploy.lock"), "run_id": args["unlock"]}
        specs[name] = (base, path, before, args, flags)
    with ThreadPoolExecutor(max_workers=len(specs)) as pool:
        futures = {name: pool.submit(ansible, "release_state", args, *flags)
                   for name, (_, _, _, args, flags) in specs.items()}
        return {name: (*futures[name].result(), *specs[name][:3]) for name in specs}


def saved(path):
    return json.loads(path.read_text())


def test_deployed_creates_the_state(runs):
    rc, host, base, path, _ = runs["deployed"]
    assert rc == 0, host.get("msg")
    assert host["changed"] is True and host["exists"] is True and host["removed"] == []
    assert host["state"] == saved(path)
    assert saved(path)["current"] == "1.0.0"
    assert saved(path)["releases"]["1.0.0"]["status"] == "deployed"


def test_bad_moves_last_known_good_back(runs):
    rc, host, base, path, _ = runs["bad"]
    assert rc == 0, host.get("msg")
    state = saved(path)
    assert state["last_known_good"] == "1.0.0" and state["current"] == "1.1.0"
    assert state["releases"]["1.1.0"]["status"] == "bad"
    assert state["releases"]["1.1.0"]["reason"] == "healthz: 503"


def test_query_without_a_file(runs):
    rc, host, base, path, _ = runs["query"]
    assert rc == 0 and host["changed"] is False and host["exists"] is False
    assert host["state"] == {"current": None, "last_known_good": None, "releases": {}}
    assert not path.exists()


def test_prune(runs):
    rc, host, base, path, _ = runs["prune"]
    assert rc == 0, host.get("msg")
    assert host["changed"] is True
    assert host["removed"] == ["1.1.0", "1.3.0.partial"]
    assert sorted(os.listdir(base / "app" / "releases")) == ["1.0.0", "1.2.0"]
    assert "pruned_at" in saved(path)["releases"]["1.1.0"]


def test_a_corrupt_state_file_fails_naming_it(runs):
    rc, host, base, path, before = runs["corrupt"]
    assert rc != 0 and host["changed"] is False
    assert host["msg"].startswith(f"release state file {path} is not valid JSON (")
    assert path.read_text() == before


def test_check_mode(runs):
    rc, host, base, path, before = runs["check"]
    assert rc == 0, host.get("msg")
    assert host["changed"] is True and host["state"]["last_known_good"] == "1.0.0"
    assert path.read_text() == before


def test_good_with_unlock_records_and_releases_the_runs_lock_in_one_call(runs):
    rc, host, base, path, _ = runs["good-unlock"]
    assert rc == 0, host.get("msg")
    assert saved(path)["last_known_good"] == "1.0.0"
    assert not (path.parent / "deploy.lock").exists()


def test_unlock_leaves_another_runs_lock_and_says_so(runs):
    rc, host, base, path, _ = runs["good-unlock-other"]
    assert rc != 0
    assert "was not released" in host["msg"] and "not releasing another run's lock" in host["msg"]
    assert json.loads((path.parent / "deploy.lock").read_text())["run_id"] == "run-a"
    assert saved(path)["last_known_good"] == "1.0.0"  # the record itself was made


def test_check_mode_keeps_the_lock(runs):
    rc, host, base, path, before = runs["check-unlock"]
    assert rc == 0, host.get("msg")
    assert path.read_text() == before
    assert (path.parent / "deploy.lock").exists()
