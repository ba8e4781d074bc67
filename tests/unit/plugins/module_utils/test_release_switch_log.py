"""The host's deployment log written by release_switch: the line, the file, concurrent writers,
and the module writing it through real Ansible (refused, check mode, an unwritable log)."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat

import pytest

from ansible.module_utils.release_switch import (
    SwitchError, deployment_entry, http_probe, log_deployment, outcome, switch, who_fields)
from tests.unit.ansible_adhoc import ANSIBLE, ansible
from tests.unit.plugins.module_utils.test_release_switch import (  # noqa: F401 (site is a fixture)
    FAST, HealthServer, reload_script, runner, site, stage)

WHO = {"user": "deploy", "controller": "ci-3", "ci_run_id": "4711", "commit": "3f2c9e1",
       "change_ticket": "CHG-1"}


@pytest.mark.parametrize("result, error, version, expected", [
    ({"switched": True, "restored": False}, None, "1.1.0", "switched"),
    ({"switched": False, "previous": "1.1.0"}, None, "1.1.0", "unchanged"),
    ({"switched": True, "restored": True}, "unhealthy", "1.1.0", "restored"),
    ({"switched": True, "restored": False}, "unhealthy; current left at 1.1.0", "1.1.0", "failed"),
    ({}, "not staged", "9.9.9", "refused"),
    ({"switched": False, "changed": False, "previous": "1.0.0"}, "could not drain", "1.1.0", "refused"),
    ({"switched": False, "previous": "1.1.0"}, "current but unhealthy", "1.1.0", "failed"),
])
def test_outcome(result, error, version, expected):
    assert outcome(result, error, version) == expected


def test_who_keeps_only_the_known_fields_as_text():
    assert who_fields({**WHO, "ci_run_id": 4711, "db_password": "s3cret", "commit": ""}) == {
        **WHO, "commit": None}
    assert who_fields(None) == dict.fromkeys(WHO)


def test_an_entry_from_a_real_switch_and_from_a_refusal(site):
    root, server, argv, _ = site
    os.symlink("releases/1.0.0", root / "current")
    result = switch(str(root), "1.1.0", runner(argv), http_probe, reload_command=argv,
                    health_url=server.url, **FAST)
    entry = deployment_entry("deploy", "1.1.0", result, None, WHO, host="web1", now=0)
    assert entry == {"time": "1970-01-01T00:00:00Z", "host": "web1", "action": "deploy", "from": "1.0.0",
                     "to": "1.1.0", "current": "1.1.0", "result": "switched", "reason": None,
                     "elapsed": result["elapsed"], "who": WHO}
    with pytest.raises(SwitchError) as refused:
        switch(str(root), "9.9.9", runner(argv), http_probe, reload_command=argv, health_url=server.url, **FAST)
    entry = deployment_entry("rollback", "9.9.9", refused.value.result, refused.value, {})
    assert (entry["result"], entry["to"], entry["host"]) == ("refused", "9.9.9", os.uname().nodename)
    assert "is not staged on this host" in entry["reason"] and "\n" not in entry["reason"]


def test_the_log_is_created_0640_in_a_0750_directory_and_appended(tmp_path):
    path = tmp_path / "var" / "log" / "stackguard" / "deployments.jsonl"
    old = os.umask(0o022)
    try:
        log_deployment(str(path), {"action": "deploy", "n": 1})
        log_deployment(str(path), {"action": "rollback", "n": 2})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o750
    lines = path.read_text().splitlines()
    assert [json.loads(line)["n"] for line in lines] == [1, 2]
    assert lines[0] == '{"action":"deploy","n":1}'


def _writer(path, writer, count):
    for n in range(count):
        log_deployment(path, {"writer": writer, "n": n, "pad": "x" * 3000})


def test_concurrent_writers_never_interleave_their_lines(tmp_path):
    path = str(tmp_path / "deployments.jsonl")
    workers = [multiprocessing.Process(target=_writer, args=(path, w, 200)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    lines = open(path, encoding="utf-8").read().splitlines()
    assert len(lines) == 800
    entries = [json.loads(line) for line in lines]  # each line whole
    for w in range(4):
        assert [e["n"] for e in entries if e["writer"] == w] == list(range(200))


# --- through the module -----------------------------------------------------------------------

needs_ansible = pytest.mark.skipif(not ANSIBLE.exists(), reason="ansible is not installed next to this Python")


def _module_args(root, server, argv, log, **extra):
    return {"root": str(root), "reload_command": argv, "health_url": server.url, "health_interval": 0.05,
            "health_timeout": 5, "log_file": str(log), "who": WHO, **extra}


@needs_ansible
def test_the_module_logs_a_refusal_and_nothing_in_check_mode(tmp_path):
    root = tmp_path / "app"
    stage(root, "1.0.0")
    stage(root, "1.1.0")
    os.symlink("releases/1.0.0", root / "current")
    argv, _ = reload_script(tmp_path, root)
    log = tmp_path / "log" / "deployments.jsonl"
    with HealthServer(root) as server:
        rc, checked = ansible("release_switch", _module_args(root, server, argv, log, version="1.1.0"), "--check")
        assert rc == 0 and checked["switched"] is True and not log.exists()
        rc, refused = ansible("release_switch", _module_args(root, server, argv, log, version="9.9.9",
                                                            action="rollback"))
    assert rc != 0 and "is not staged on this host" in refused["msg"]
    [entry] = [json.loads(line) for line in log.read_text().splitlines()]
    assert (entry["action"], entry["from"], entry["to"], entry["current"], entry["result"]) == (
        "rollback", "1.0.0", "9.9.9", "1.0.0", "refused")
    assert entry["who"] == WHO and entry["reason"] == refused["msg"]


@needs_ansible
def test_an_unwritable_log_is_a_warning_and_the_switch_still_succeeds(tmp_path):
    root = tmp_path / "app"
    stage(root, "1.0.0")
    stage(root, "1.1.0")
    os.symlink("releases/1.0.0", root / "current")
    argv, _ = reload_script(tmp_path, root)
    log = tmp_path / "log-is-a-directory"
    log.mkdir()
    with HealthServer(root) as server:
        rc, result = ansible("release_switch", _module_args(root, server, argv, log, version="1.1.0"))
    assert rc == 0, result.get("msg")
    assert result["switched"] is True and os.readlink(root / "current") == "releases/1.1.0"
    assert result["log_error"].startswith(f"could not append to {log}: ")
    assert any("could not append to" in w for w in result.get("warnings", []))
