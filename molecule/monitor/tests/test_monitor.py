"""The drift monitor's timer reports drift made behind Ansible's back, once, and its clearing.

side_effect.yml disabled the mbstring extension and released apache2's hold (between two runs of
the 20 s timer) and recorded when. The tests run in order: the drift reaches the metrics file
within one interval, the journal has a line per item, the in-instance webhook listener received
it once in slack and once in generic form (the dead third webhook did not stop anything),
the stack_verify module reports the very same items, an unchanged drift is not notified again,
and once fixed the metrics clear and a "drift cleared" notification arrives.
"""
import datetime
import json
import time

import pytest

from stackguard_testing import host_vars, stack_manifest

METRICS = "/var/lib/prometheus/node-exporter/stackguard_stack.prom"
WEBHOOK_LOG = "/var/tmp/sg-webhooks.jsonl"
INTRODUCED = "/var/tmp/sg-drift-introduced-at"
FIXED = "/var/tmp/sg-drift-fixed-at"
STATE = "/var/lib/stackguard/drift-monitor/state.json"
SLACK_PATH = "/services/T000/B000/molecule-secret"
# The check itself takes about a second or two; a run late by more than this is a failure.
RUN_SLACK = 5

DRIFT = [
    {"kind": "hold", "name": "apache2", "expected": "held", "actual": "not held"},
    {"kind": "extension", "name": "mbstring", "expected": "loaded", "actual": "not loaded"},
]
DRIFT_SERIES = [
    'stackguard_stack_drift{kind="hold",name="apache2",expected="held",actual="not held"}',
    'stackguard_stack_drift{kind="extension",name="mbstring",expected="loaded",actual="not loaded"}',
]


def interval(host):
    return int(host_vars(host)["drift_monitor_interval"])


def metrics(host):
    """{name or series: value} of the metrics file, comments left out."""
    values = {}
    for line in host.file(METRICS).content_string.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            values[series] = float(value)
    return values


def webhooks(host):
    content = host.file(WEBHOOK_LOG).content_string if host.file(WEBHOOK_LOG).exists else ""
    return [json.loads(line) for line in content.splitlines() if line.strip()]


def stamp(host, path):
    return float(host.file(path).content_string)


def wait_for(what, predicate, timeout, step=1.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s")
        time.sleep(step)


def wait_for_run_after(host, moment):
    """The metrics of the first run of the timer that started after ``moment`` (Unix time), once
    that run has finished (metrics come first; the journal, notifications and state follow)."""
    # However late the wait starts, a run that is under way gets the time to finish.
    limit = max(moment + interval(host) + RUN_SLACK - time.time(), 2 * RUN_SLACK)

    def ran():
        current = metrics(host)
        if current["stackguard_stack_check_last_run_timestamp_seconds"] < int(moment):
            return None
        state = host.check_output("systemctl show -p ActiveState --value stackguard-drift-check.service")
        return current if state.strip() == "inactive" else None
    return wait_for(f"a run of the drift check after {moment:.0f}", ran, limit, step=0.5)


def by_style(records):
    slack = [r for r in records if r["path"] == SLACK_PATH]
    generic = [r for r in records if r["path"] == "/generic"]
    assert len(slack) + len(generic) == len(records), records
    return slack, generic


def test_the_timer_is_scheduled_every_interval(host):
    timer = host.service("stackguard-drift-check.timer")
    assert timer.is_enabled and timer.is_running
    assert host.file("/etc/systemd/system/stackguard-drift-check.timer").contains(
        f"^OnUnitActiveSec={interval(host)}s$")


def test_the_drift_is_in_the_metrics_within_one_interval(host):
    introduced = stamp(host, INTRODUCED)
    current = wait_for_run_after(host, introduced)
    # The run that first saw the drift recorded when it ran (the state's "since"): however late
    # this test started, that run came within one interval of the drift.
    state = json.loads(host.file(STATE).content_string)
    assert state["change"] == "appeared" and state["drift"] == DRIFT
    seen_at = datetime.datetime.fromisoformat(state["since"].replace("Z", "+00:00")).timestamp()
    assert introduced - 1 <= seen_at <= introduced + interval(host) + RUN_SLACK
    assert {k: v for k, v in current.items() if k.startswith("stackguard_stack_drift{")} == \
        {series: 1 for series in DRIFT_SERIES}
    assert current["stackguard_stack_drift_items"] == 2
    assert current["stackguard_stack_check_success"] == 1
    # exactly these names and nothing else in the file
    assert sorted(current) == sorted(DRIFT_SERIES + [
        "stackguard_stack_drift_items", "stackguard_stack_check_success",
        "stackguard_stack_check_last_run_timestamp_seconds"])
    assert host.file(METRICS).mode == 0o644
    assert [f for f in host.file("/var/lib/prometheus/node-exporter").listdir() if f.endswith(".tmp")] == []


def journal(host, since, *options):
    return host.check_output(f"journalctl -u stackguard-drift-check.service --since @{int(since)} "
                             f"-o cat --no-pager {' '.join(options)}")


def journal_with(host, since, expected, *options, timeout=10):
    """The journal since ``since`` once it holds every line of ``expected``: journald stores a
    service's output a moment after the service wrote it, possibly after the unit went inactive."""
    deadline = time.monotonic() + timeout
    while True:
        lines = journal(host, since, *options)
        missing = [line for line in expected if line not in lines]
        if not missing:
            return lines
        if time.monotonic() > deadline:
            pytest.fail(f"not in the journal within {timeout} s: {missing}\n{lines}")
        time.sleep(0.5)


def test_the_journal_has_a_line_per_item(host):
    journal_with(host, stamp(host, INTRODUCED), [
        "drift: hold apache2: expected held, actual not held",
        "drift: extension mbstring: expected loaded, actual not loaded",
        "drift appeared; notifying: drift appeared on sg-mol-mon-bullseye: 2 drift items from "
        "php74-apache24@1: hold apache2, extension mbstring",
        # the dead webhook is reported, its failure did not fail the run (the metrics are there)
        "drift event NOT delivered to http://127.0.0.1:8766/down (generic)",
    ], "-p", "warning")
    # the URL path of the slack webhook is a credential: never logged
    assert "molecule-secret" not in host.check_output(
        "journalctl -u stackguard-drift-check.service -o cat --no-pager")


def test_the_listener_received_the_drift_once_in_slack_and_generic_form(host):
    introduced = stamp(host, INTRODUCED)
    records = webhooks(host)
    # in sync from converge until the drift: nothing was sent before it
    assert records, journal(host, introduced)
    assert all(r["at"] >= introduced for r in records)
    slack, generic = by_style(records)
    assert len(slack) == len(generic) == 1
    summary = ("drift appeared on sg-mol-mon-bullseye: 2 drift items from php74-apache24@1: "
               "hold apache2, extension mbstring")
    body = slack[0]["body"]
    assert slack[0]["content_type"] == "application/json"
    assert body["text"] == f"[stackguard molecule-monitor] drift WARNING: {summary}"
    fields = {f["title"]: f["value"] for f in body["attachments"][0]["fields"]}
    assert json.loads(fields["drift"]) == DRIFT
    assert (fields["host"], fields["stack"], fields["change"]) == \
        ("sg-mol-mon-bullseye", "php74-apache24@1", "appeared")
    event = generic[0]["body"]
    assert (event["source"], event["kind"], event["status"], event["environment"], event["host"]) == \
        ("stackguard", "drift", "warning", "molecule-monitor", "sg-mol-mon-bullseye")
    assert event["summary"] == summary
    assert event["details"]["drift"] == event["details"]["new"] == DRIFT
    assert event["details"]["gone"] == [] and sorted(event["details"]["groups"]) == ["db", "web"]


def test_stack_verify_reports_the_same_items_as_the_timer(host):
    # The module verify.yml and every converge run; the timer runs the same check on the host.
    args = {"manifest": stack_manifest(host), "groups": host_vars(host)["group_names"],
            "fail_on_drift": False}
    result = host.ansible("stack_verify", json.dumps(args), check=True)
    assert result["in_sync"] is False
    assert result["drift"] == DRIFT
    assert result["summary"] == "2 drift items from php74-apache24@1: hold apache2, extension mbstring"


def test_an_unchanged_drift_is_not_notified_again(host):
    last = metrics(host)["stackguard_stack_check_last_run_timestamp_seconds"]
    current = wait_for_run_after(host, last + 1)
    assert sorted(k for k in current if k.startswith("stackguard_stack_drift{")) == sorted(DRIFT_SERIES)
    slack, generic = by_style(webhooks(host))
    assert len(slack) == len(generic) == 1
    # from the start of that next run on
    lines = journal_with(host, current["stackguard_stack_check_last_run_timestamp_seconds"],
                         ["drift unchanged since ", "not notified again"])
    assert "notifying" not in lines


def test_fixing_the_host_clears_the_drift_and_says_so(host):
    fixed = host.run("/usr/local/lib/sg-test/quiet_window.py %s sh -c %s", FIXED,
                     "phpenmod -v 7.4 mbstring && apt-mark hold apache2")
    assert fixed.rc == 0, fixed.stderr
    current = wait_for_run_after(host, stamp(host, FIXED))
    assert not [k for k in current if k.startswith("stackguard_stack_drift{")]
    assert current["stackguard_stack_drift_items"] == 0
    assert current["stackguard_stack_check_success"] == 1
    slack, generic = wait_for("the cleared notification", lambda: (
        lambda s, g: (s, g) if len(g) == 2 and len(s) == 2 else None)(*by_style(webhooks(host))), 10)
    summary = "drift cleared on sg-mol-mon-bullseye: in sync with php74-apache24@1"
    assert slack[1]["body"]["text"] == f"[stackguard molecule-monitor] drift OK: {summary}"
    event = generic[1]["body"]
    assert (event["kind"], event["status"], event["summary"]) == ("drift", "ok", summary)
    assert event["details"]["drift"] == [] and event["details"]["gone"] == DRIFT
    journal_with(host, stamp(host, FIXED), ["in sync with php74-apache24@1", "drift cleared; notifying"])
