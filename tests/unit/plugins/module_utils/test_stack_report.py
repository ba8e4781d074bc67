"""stack_report: the fleet report of stack_verify results, its lines, its failure message, its file."""

from __future__ import annotations

import json
import stat

from ansible.module_utils.stack_report import NOT_CHECKED, build, drifted, entry, failure, lines, write

IN_SYNC = {"in_sync": True, "summary": "in sync with php74-apache24@1", "drift": [], "changed": False}
DRIFTS = {"in_sync": False, "summary": "2 drift items from php74-apache24@1", "changed": False, "drift": [
    {"kind": "package", "name": "php7.4-intl", "expected": "7.4.33-1+deb11u12", "actual": None},
    {"kind": "extension", "name": "intl", "expected": "loaded", "actual": "missing"}]}


def test_a_host_without_a_result_is_not_verified():
    for result in (None, {}, {"failed": True, "msg": "unreachable"}, "garbage"):
        assert entry(result) == {"in_sync": False, "summary": NOT_CHECKED, "drift": []}


def test_only_a_true_in_sync_is_in_sync():
    assert entry({"in_sync": "yes", "summary": "odd"})["in_sync"] is False
    assert entry(IN_SYNC) == {"in_sync": True, "summary": IN_SYNC["summary"], "drift": []}


def test_the_report_keeps_the_play_order_and_names_the_drifted_hosts():
    report = build({"web2": DRIFTS, "web1": IN_SYNC, "db1": None})
    assert list(report) == ["web2", "web1", "db1"]
    assert drifted(report) == ["web2", "db1"]
    assert lines(report) == ["web2: 2 drift items from php74-apache24@1",
                             "web1: in sync with php74-apache24@1", f"db1: {NOT_CHECKED}"]


def test_the_failure_names_each_drifted_host_and_its_items_then_every_line():
    report = build({"web1": IN_SYNC, "web2": DRIFTS, "db1": None})
    assert failure(report) == (
        "2 of 3 hosts drift: web2 (package php7.4-intl, extension intl); "
        f"db1 ({NOT_CHECKED}). Report: web1: in sync with php74-apache24@1; "
        f"web2: 2 drift items from php74-apache24@1; db1: {NOT_CHECKED}")


def test_the_file_is_the_report_as_sorted_json_readable_by_all(tmp_path):
    path = tmp_path / "report.json"
    path.write_text("old", encoding="utf-8")
    report = build({"web2": DRIFTS, "web1": IN_SYNC})
    write(str(path), report)
    text = path.read_text(encoding="utf-8")
    assert json.loads(text) == report
    assert text == json.dumps(report, indent=4, sort_keys=True) + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left
