"""audit: building the record from plain data, and appending it."""

from __future__ import annotations

import json
import os
import subprocess

from ansible.module_utils.audit import (
    append_line, build_record, ci_run_id, git_state, host_counts, iso_utc, relative_path,
    release_version, stack_info, to_line, who)

STARTED = 1714557600.0  # 2024-05-01T10:00:00Z


def _record(**overrides):
    arguments = {
        "who": who("deploy", "ctl1", {"GITHUB_RUN_ID": "99"}),
        "playbook": "playbooks/site.yml",
        "play": "Web servers",
        "environment": "production",
        "release": "1.4.2",
        "stack": stack_info({"name": "php74-apache24", "revision": 1, "digest": "sha256:ab"}),
        "git": {"commit": "a" * 40, "dirty": False},
        "started": STARTED,
        "ended": STARTED + 12.3456,
        "hosts": {"web2": {"ok": 3, "changed": 1}, "web1": {"ok": 4, "changed": 2, "failures": 1},
                  "vault1": {"ok": 1, "unreachable": 0, "skipped": 2}},
    }
    arguments.update(overrides)
    return build_record(**arguments)


def test_record_fields():
    record = _record()
    assert record["who"] == {"user": "deploy", "controller_host": "ctl1", "ci_run_id": "99"}
    assert record["what"] == {
        "playbook": "playbooks/site.yml", "play": "Web servers", "environment": "production",
        "release": "1.4.2", "stack": {"name": "php74-apache24", "revision": 1, "digest": "sha256:ab"},
        "commit": "a" * 40, "dirty": False}
    assert record["when"] == {"started": "2024-05-01T10:00:00Z", "ended": "2024-05-01T10:00:12Z",
                              "seconds": 12.346}
    assert list(record["hosts"]) == ["vault1", "web1", "web2"]  # a host named like a secret stays
    assert record["hosts"]["web1"] == {"ok": 4, "changed": 2, "failed": 1, "unreachable": 0, "skipped": 0}
    assert record["totals"] == {"ok": 8, "changed": 3, "failed": 1, "unreachable": 0, "skipped": 2, "hosts": 3}


def test_record_redacts_secret_looking_keys():
    record = _record(stack={"name": "s", "revision": 1, "digest": None, "vault_token": "s3cret"})
    line = to_line(record)
    assert "s3cret" not in line and "vault1" in line
    assert line.endswith("\n") and line.count("\n") == 1
    assert json.loads(line)["what"]["stack"] == {"name": "s", "revision": 1, "digest": None}


def test_ci_run_id_order_and_absence():
    assert ci_run_id({}) is None
    assert ci_run_id({"CI_PIPELINE_ID": "7", "STACKGUARD_CI_RUN_ID": "8"}) == "7"
    assert ci_run_id({"GITHUB_RUN_ID": "", "STACKGUARD_CI_RUN_ID": "8"}) == "8"


def test_stack_release_and_counts_helpers():
    assert stack_info({"name": None}, {"name": "php82-apache24", "revision": 1}) == {
        "name": "php82-apache24", "revision": 1, "digest": None}
    assert stack_info() == {"name": None, "revision": None, "digest": None}
    assert release_version({"version": "1.0.0", "sha256": "x"}) == "1.0.0"
    assert release_version(None) is None and release_version({"version": ""}) is None
    assert host_counts(None) == {"ok": 0, "changed": 0, "failed": 0, "unreachable": 0, "skipped": 0}
    assert iso_utc(None) is None
    record = _record(started=None, hosts={})
    assert record["when"]["seconds"] is None and record["totals"]["hosts"] == 0


def test_relative_path(tmp_path):
    assert relative_path(str(tmp_path / "a" / "pb.yml"), str(tmp_path)) == os.path.join("a", "pb.yml")
    assert relative_path("/elsewhere/pb.yml", str(tmp_path)) == "/elsewhere/pb.yml"
    assert relative_path("", str(tmp_path)) is None


def test_git_state(tmp_path):
    assert git_state(str(tmp_path)) == {"commit": None, "dirty": None}
    run = {"cwd": tmp_path, "check": True, "capture_output": True}
    subprocess.run(["git", "init", "-q"], **run)
    (tmp_path / "f").write_text("1")
    subprocess.run(["git", "add", "f"], **run)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"], **run)
    state = git_state(str(tmp_path))
    assert len(state["commit"]) == 40 and state["dirty"] is False
    (tmp_path / "f").write_text("2")
    assert git_state(str(tmp_path))["dirty"] is True


def test_append_line_creates_and_appends(tmp_path):
    path = tmp_path / "deep" / "audit.jsonl"
    append_line(str(path), '{"a":1}\n')
    append_line(str(path), '{"a":2}\n')
    assert path.read_text().splitlines() == ['{"a":1}', '{"a":2}']
    assert oct(path.stat().st_mode & 0o777) == "0o600"
