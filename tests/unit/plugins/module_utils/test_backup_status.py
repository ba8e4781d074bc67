"""backup_status: the JSON status and the Prometheus textfile each run rewrites, atomically."""
import json
import os
import re
import stat
import threading

import pytest

from ansible.module_utils.backup_catalog import parse_time
from ansible.module_utils.backup_status import load, record, render_metrics, save, write_atomic

T0 = parse_time("2026-11-30 23:59:00")


def test_a_success_then_a_failure_keeps_the_last_success():
    state = record({"runs": {}}, "daily", True, T0, 12.5, size=1234, details={"id": "a"})
    state = record(state, "daily", False, T0 + 86400, 0.4, error="mariadb-dump failed: no connection")
    run = state["runs"]["daily"]
    assert run == {
        "last_run_at": "2026-12-01T23:59:00Z", "last_status": "failed",
        "last_success_at": "2026-11-30T23:59:00Z", "last_error": "mariadb-dump failed: no connection",
        "duration_seconds": 0.4, "size_bytes": 1234, "details": {}, "last_success_details": {"id": "a"}}


def test_record_leaves_its_input_alone():
    before = {"runs": {"daily": {"last_status": "ok"}}}
    record(before, "daily", False, T0, 1)
    assert before == {"runs": {"daily": {"last_status": "ok"}}}


def test_metrics_have_one_series_per_kind_and_metric():
    state = record({"runs": {}}, "daily", True, T0, 12.25, size=1234)
    state = record(state, "binlog", True, T0 + 60, 0.5, size=77, details={"archived_until": "2026-11-30T23:59:30Z"})
    state = record(state, "pre_deploy", False, T0 + 120, 3, error="disk full")
    text = render_metrics(state)
    series = dict(re.findall(r"^(stackguard_backup_\S+) (\S+)$", text, re.MULTILINE))
    assert series == {
        'stackguard_backup_last_success_timestamp_seconds{kind="binlog"}': str(T0 + 60),
        'stackguard_backup_last_success_timestamp_seconds{kind="daily"}': str(T0),
        'stackguard_backup_last_success_timestamp_seconds{kind="pre_deploy"}': "0",
        'stackguard_backup_last_run_timestamp_seconds{kind="binlog"}': str(T0 + 60),
        'stackguard_backup_last_run_timestamp_seconds{kind="daily"}': str(T0),
        'stackguard_backup_last_run_timestamp_seconds{kind="pre_deploy"}': str(T0 + 120),
        'stackguard_backup_last_run_success{kind="binlog"}': "1",
        'stackguard_backup_last_run_success{kind="daily"}': "1",
        'stackguard_backup_last_run_success{kind="pre_deploy"}': "0",
        'stackguard_backup_last_size_bytes{kind="binlog"}': "77",
        'stackguard_backup_last_size_bytes{kind="daily"}': "1234",
        'stackguard_backup_last_size_bytes{kind="pre_deploy"}': "0",
        'stackguard_backup_last_duration_seconds{kind="binlog"}': "0.5",
        'stackguard_backup_last_duration_seconds{kind="daily"}': "12.25",
        'stackguard_backup_last_duration_seconds{kind="pre_deploy"}': "3",
        "stackguard_backup_binlog_archived_until_timestamp_seconds": str(T0 + 30),
    }
    assert "# TYPE stackguard_backup_last_success_timestamp_seconds gauge" in text
    assert text.endswith("\n")


def test_every_sample_follows_the_help_and_type_of_its_metric():
    state = record(record({"runs": {}}, "daily", True, T0, 1, size=1), "binlog", True, T0, 1, size=1,
                   details={"archived_until": "2026-11-30T23:59:00Z"})
    described = {}
    for line in render_metrics(state).splitlines():
        if line.startswith("# "):
            _, word, name = line.split()[:3]
            described.setdefault(name, []).append(word)
        else:
            assert described.get(line.split("{")[0].split()[0]) == ["HELP", "TYPE"], line


def test_save_writes_both_files_whole_and_readable(tmp_path):
    state = record({"runs": {}}, "daily", True, T0, 1, size=5)
    status, metrics = tmp_path / "s" / "status.json", tmp_path / "m" / "backup.prom"
    save(state, str(status), str(metrics))
    assert json.loads(status.read_text()) == state
    assert metrics.read_text() == render_metrics(state)
    for path in (status, metrics):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert load(str(status)) == state


@pytest.mark.parametrize("content", [None, "", "not json", "[]", '{"runs": []}'])
def test_load_starts_over_from_a_missing_or_broken_file(tmp_path, content):
    path = tmp_path / "status.json"
    if content is not None:
        path.write_text(content)
    assert load(str(path)) == {"runs": {}}


def test_write_atomic_leaves_no_temporary_file_and_replaces_whole(tmp_path):
    path = tmp_path / "x.prom"
    write_atomic(str(path), "old\n")
    write_atomic(str(path), "new\n")
    assert path.read_text() == "new\n"
    assert os.listdir(tmp_path) == ["x.prom"]


def test_a_reader_never_sees_a_half_written_file(tmp_path):
    path = tmp_path / "x.prom"
    big = ["a" * 100_000 + "\n", "b" * 100_000 + "\n"]
    write_atomic(str(path), big[0])
    seen, stop = set(), threading.Event()

    def read():
        while not stop.is_set():
            seen.add(path.read_text())

    reader = threading.Thread(target=read)
    reader.start()
    for n in range(60):
        write_atomic(str(path), big[n % 2])
    stop.set()
    reader.join()
    assert seen <= set(big)


def test_write_atomic_cleans_up_when_it_cannot_write(tmp_path):
    target = tmp_path / "dir"
    target.mkdir()
    with pytest.raises(OSError):
        write_atomic(str(target), "x")  # a directory cannot be replaced by a file
    assert os.listdir(target) == []
    assert [p.name for p in tmp_path.iterdir()] == ["dir"]
