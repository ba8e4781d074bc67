"""drift_monitor: the metrics text, the atomic writes, the state machine and the configuration.

The whole monitor (real checks, real stackguard-notify, a real listener) is exercised through its
host-side script in tests/unit/roles/drift_monitor/test_stackguard_drift_check.py.
"""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible.module_utils.drift_monitor import (
    Log, escape_label, load_config, load_state, render_metrics, transition, write_atomic)

HOLD = {"kind": "hold", "name": "apache2", "expected": "held", "actual": "not held"}
EXT = {"kind": "extension", "name": "mbstring", "expected": "loaded", "actual": "not loaded"}
PKG = {"kind": "package", "name": "php7.4-intl", "expected": "7.4.33-1+deb11u12", "actual": "7.4.33-1+deb11u99"}
PKG2 = dict(PKG, actual="7.4.33-1+deb11u98")


def test_metrics_text_one_series_per_item():
    assert render_metrics([PKG, HOLD], 1700000000.7) == """\
# HELP stackguard_stack_drift One series per way this host differs from its pinned stack manifest.
# TYPE stackguard_stack_drift gauge
stackguard_stack_drift{kind="package",name="php7.4-intl",expected="7.4.33-1+deb11u12",actual="7.4.33-1+deb11u99"} 1
stackguard_stack_drift{kind="hold",name="apache2",expected="held",actual="not held"} 1
# HELP stackguard_stack_drift_items How many drift items the last successful check found.
# TYPE stackguard_stack_drift_items gauge
stackguard_stack_drift_items 2
# HELP stackguard_stack_check_success 1 when the last check ran, 0 when it could not.
# TYPE stackguard_stack_check_success gauge
stackguard_stack_check_success 1
# HELP stackguard_stack_check_last_run_timestamp_seconds When the last check ran, Unix time.
# TYPE stackguard_stack_check_last_run_timestamp_seconds gauge
stackguard_stack_check_last_run_timestamp_seconds 1700000000
"""


def test_metrics_of_a_check_that_could_not_run_have_no_drift_and_no_count():
    lines = [line for line in render_metrics([HOLD], 5).splitlines() if not line.startswith("#")]
    assert lines == ['stackguard_stack_drift{kind="hold",name="apache2",expected="held",actual="not held"} 1',
                     "stackguard_stack_drift_items 1", "stackguard_stack_check_success 1",
                     "stackguard_stack_check_last_run_timestamp_seconds 5"]
    lines = [line for line in render_metrics([HOLD], 5, success=False).splitlines() if not line.startswith("#")]
    assert lines == ["stackguard_stack_check_success 0", "stackguard_stack_check_last_run_timestamp_seconds 5"]


@pytest.mark.parametrize("raw, escaped", [
    ("plain", "plain"), ('say "hi"', 'say \\"hi\\"'), ("back\\slash", "back\\\\slash"),
    ("two\nlines", "two\\nlines"), (">= 1.0, << 2", ">= 1.0, << 2"), (3, "3"),
])
def test_label_values_are_escaped_as_the_exposition_format_says(raw, escaped):
    assert escape_label(raw) == escaped


@pytest.mark.parametrize("previous, now, change", [
    (None, [], None),                 # first run, in sync: nothing to tell
    (None, [HOLD], "appeared"),       # first run, drifted
    ([], [], None),
    ([], [HOLD, EXT], "appeared"),
    ([HOLD, EXT], [EXT, HOLD], None),  # same items, another order
    ([HOLD], [HOLD, EXT], "changed"),
    ([HOLD, EXT], [EXT], "changed"),
    ([PKG], [PKG2], "changed"),       # same package, another actual version
    ([HOLD, EXT], [], "cleared"),
])
def test_transition(previous, now, change):
    assert transition(previous, now) == change


def test_write_atomic_replaces_the_file_whole_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "deep" / "dir" / "stackguard_stack.prom"
    write_atomic(str(target), "first\n")
    old_inode = target.stat().st_ino
    write_atomic(str(target), "second\n", mode=0o640)
    assert target.read_text() == "second\n"
    assert target.stat().st_ino != old_inode  # a new file renamed over the old one, not rewritten
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(os.listdir(target.parent)) == ["stackguard_stack.prom"]


def test_write_atomic_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "stackguard_stack.prom"
    write_atomic(str(target), "good\n")

    with pytest.raises(TypeError):
        write_atomic(str(target), 42)  # not text: the write fails half-way
    assert target.read_text() == "good\n"
    assert os.listdir(tmp_path) == ["stackguard_stack.prom"]


def test_load_config_names_the_file_and_field(tmp_path):
    path = tmp_path / "drift-monitor.json"
    with pytest.raises(ValueError, match="does not exist; the drift_monitor role writes it"):
        load_config(str(path))
    path.write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match="is unreadable"):
        load_config(str(path))
    good = {"host": "web1", "manifest": {"name": "s"}, "groups": ["web"], "metrics_file": "/m.prom",
            "state_file": "/s.json"}
    path.write_text(json.dumps(dict(good, groups="web")), encoding="utf-8")
    with pytest.raises(ValueError, match=f"^{path}: field 'groups' is missing or not a list; converge"):
        load_config(str(path))
    path.write_text(json.dumps(good), encoding="utf-8")
    config = load_config(str(path))
    assert config["notify"] is True and config["package_ranges"] == {}
    assert config["notify_command"] == ["/usr/local/bin/stackguard-notify"]


def test_an_unreadable_state_is_a_fresh_start_and_says_so(tmp_path, capsys):
    log = Log(journal=False)
    assert load_state(str(tmp_path / "none.json"), log) is None
    bad = tmp_path / "state.json"
    bad.write_text("[1]", encoding="utf-8")
    assert load_state(str(bad), log) is None
    assert log.lines == [f"state file {bad} is not a drift monitor state; starting afresh"]


def test_log_prefixes_priorities_only_for_the_journal(capsys, monkeypatch):
    Log(journal=True)("<4>", "drift: hold apache2")
    Log(journal=False)("<4>", "plain")
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")
    Log()("<6>", "in sync")
    assert capsys.readouterr().out == "<4>drift: hold apache2\nplain\n<6>in sync\n"
