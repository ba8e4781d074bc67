"""stackguard-drift-check run for real, one run after another, as its timer would.

The script is the role's file, run with ``python -S`` (no Ansible) on the repository's library laid
out as host_tools installs it; it checks THIS machine (dpkg-query, apt-mark, systemctl) against
synthetic manifests pinning packages installed here, writes the metrics and state files into a
temporary directory, and notifies through the real stackguard-notify, which posts to real HTTP
listeners on 127.0.0.1 (one slack, one generic). Drift is made by changing the pinned versions
between runs, so the runs go: in sync, drift appears, unchanged, changes, clears.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.unit.roles.host_tools.hostside import HOST_LIB, NOTIFY_BIN, REPO, install, run
from tests.webhook_listener import WebhookListener

SCRIPT = REPO / "roles" / "drift_monitor" / "files" / "usr" / "local" / "sbin" / "stackguard-drift-check"

pytestmark = [
    pytest.mark.skipif(HOST_LIB.exists(), reason=f"{HOST_LIB} exists here and would shadow the copy under test"),
    pytest.mark.skipif(not shutil.which("dpkg-query") or not shutil.which("apt-mark"), reason="not a dpkg system"),
]


def direct(*argv):
    return subprocess.run(argv, capture_output=True, text=True, check=False,
                          env={**os.environ, "LC_ALL": "C"}).stdout


BASH = direct("dpkg-query", "-W", "-f", "${Version}", "bash")
DPKG = direct("dpkg-query", "-W", "-f", "${Version}", "dpkg")
HELD = set(direct("apt-mark", "showhold").split())


def hold_items(*names):
    return [{"kind": "hold", "name": n, "expected": "held", "actual": "not held"}
            for n in sorted(names) if n not in HELD]


def manifest(packages):
    return {"name": "synthetic", "revision": 7, "digest": "sha256:0", "packages": {"tools": packages},
            "services": {"tools": []}}


class Monitor:
    """A host in a temp dir: library, configs, webhooks; ``check(packages)`` is one timer run."""

    def __init__(self, tmp_path, webhooks):
        self.lib = install(tmp_path / "root")
        self.etc = tmp_path / "etc"
        self.etc.mkdir()
        (self.etc / "webhooks.json").write_text(json.dumps(webhooks), encoding="utf-8")
        (self.etc / "host.json").write_text(json.dumps({"environment": "unit", "host": "web9"}), encoding="utf-8")
        self.metrics = tmp_path / "textfile" / "stackguard_stack.prom"
        self.state = tmp_path / "state" / "state.json"
        self.config = self.etc / "drift-monitor.json"
        self.notify_command = [sys.executable, "-S", str(NOTIFY_BIN)]

    def check(self, packages, journal=False, **overrides):
        config = {"host": "web9", "manifest": manifest(packages), "groups": ["tools"],
                  "package_ranges": {}, "metrics_file": str(self.metrics), "state_file": str(self.state),
                  "notify": True, "notify_command": self.notify_command, **overrides}
        self.config.write_text(json.dumps(config), encoding="utf-8")
        env = {"STACKGUARD_CONFIG_DIR": str(self.etc)}
        if journal:
            env["JOURNAL_STREAM"] = "8:1"
        return run([SCRIPT, "--config", self.config], self.lib, env=env)

    def drift_series(self):
        return [line for line in self.metrics.read_text(encoding="utf-8").splitlines()
                if line.startswith("stackguard_stack_drift")]


@pytest.fixture
def listeners():
    slack, generic = WebhookListener(), WebhookListener()
    yield slack, generic
    slack.close()
    generic.close()


@pytest.fixture
def monitor(tmp_path, listeners):
    slack, generic = listeners
    return Monitor(tmp_path, [{"url": slack.base + "/services/T0/B0/secret", "style": "slack"},
                              {"url": generic.base + "/events", "style": "generic"}])


def series(item):
    return (f'stackguard_stack_drift{{kind="{item["kind"]}",name="{item["name"]}",'
            f'expected="{item["expected"]}",actual="{item["actual"]}"}} 1')


def test_notifies_when_drift_appears_changes_and_clears_and_not_in_between(monitor, listeners):
    slack, generic = listeners

    # 1. in sync on the first run: metrics, no notification
    proc = monitor.check({})
    assert proc.returncode == 0, proc.stderr
    assert monitor.drift_series() == ["stackguard_stack_drift_items 0"]
    assert "stackguard_stack_check_success 1" in monitor.metrics.read_text()
    assert proc.stdout.splitlines() == ["in sync with synthetic@7"]
    assert slack.received == generic.received == []

    # 2. drift appears: bash pinned to a version this machine does not run
    appeared = [{"kind": "package", "name": "bash", "expected": "0.0-1", "actual": BASH}] + hold_items("bash")
    proc = monitor.check({"bash": "0.0-1"}, journal=True)
    assert proc.returncode == 0, proc.stderr
    assert monitor.drift_series() == [series(i) for i in appeared] + [f"stackguard_stack_drift_items {len(appeared)}"]
    lines = proc.stdout.splitlines()
    assert lines[0] == f"<4>drift: package bash: expected 0.0-1, actual {BASH}"
    assert f"<4>drift appeared; notifying: drift appeared on web9: {len(appeared)} drift item" in proc.stdout
    assert "<6>stackguard-notify: 2 of 2 webhook(s) took the drift event" in proc.stdout
    [slack_body] = [r["body"] for r in slack.received]
    [generic_body] = [r["body"] for r in generic.received]
    summary = f"drift appeared on web9: {len(appeared)} drift item{'s' if len(appeared) > 1 else ''} " \
              f"from synthetic@7: package bash" + (", hold bash" if "bash" not in HELD else "")
    assert slack_body["text"] == f"[stackguard unit] drift WARNING: {summary}"
    fields = {f["title"]: f["value"] for f in slack_body["attachments"][0]["fields"]}
    assert json.loads(fields["drift"]) == appeared and fields["change"] == "appeared"
    assert (generic_body["kind"], generic_body["status"], generic_body["summary"]) == ("drift", "warning", summary)
    assert generic_body["details"]["drift"] == generic_body["details"]["new"] == appeared
    assert generic_body["details"]["gone"] == [] and generic_body["host"] == "web9"
    assert generic_body["details"]["stack"] == "synthetic@7" and generic_body["environment"] == "unit"

    # 3. the same drift again: metrics refreshed, nobody told twice
    before = monitor.metrics.stat().st_mtime_ns
    proc = monitor.check({"bash": "0.0-1"})
    assert proc.returncode == 0
    assert monitor.metrics.stat().st_mtime_ns >= before
    assert "not notified again" in proc.stdout
    assert len(slack.received) == len(generic.received) == 1

    # 4. the drift changes: dpkg pinned wrong too
    proc = monitor.check({"bash": "0.0-1", "dpkg": "0.0-1"})
    assert proc.returncode == 0
    changed = generic.received[-1]["body"]
    assert len(generic.received) == len(slack.received) == 2
    assert changed["summary"].startswith("drift changed on web9: ")
    assert changed["details"]["new"] == [{"kind": "package", "name": "dpkg", "expected": "0.0-1",
                                          "actual": DPKG}] + hold_items("dpkg")
    assert changed["details"]["gone"] == []

    # 5. cleared: nothing pinned is off
    proc = monitor.check({})
    assert proc.returncode == 0
    assert monitor.drift_series() == ["stackguard_stack_drift_items 0"]
    assert len(generic.received) == len(slack.received) == 3
    cleared = generic.received[-1]["body"]
    assert (cleared["status"], cleared["summary"]) == ("ok", "drift cleared on web9: in sync with synthetic@7")
    assert cleared["details"]["drift"] == [] and len(cleared["details"]["gone"]) == len(changed["details"]["drift"])
    assert slack.received[-1]["body"]["text"] == \
        "[stackguard unit] drift OK: drift cleared on web9: in sync with synthetic@7"

    # and in sync stays quiet
    assert monitor.check({}).returncode == 0
    assert len(generic.received) == 3
    state = json.loads(monitor.state.read_text())
    assert state["drift"] == [] and state["change"] == "cleared" and state["stack"] == "synthetic@7"


def test_a_notification_that_could_not_be_run_is_tried_again_next_run(monitor, listeners):
    slack, generic = listeners
    monitor.check({})
    missing = monitor.check({"bash": "0.0-1"}, notify_command=["/nonexistent/stackguard-notify"])
    assert missing.returncode == 0
    assert "could not run /nonexistent/stackguard-notify" in missing.stdout
    assert "will try again next run" in missing.stdout
    assert json.loads(monitor.state.read_text())["drift"] == []  # not recorded as told
    proc = monitor.check({"bash": "0.0-1"})
    assert "drift appeared; notifying" in proc.stdout
    assert len(generic.received) == 1 and generic.received[0]["body"]["summary"].startswith("drift appeared")


def test_a_dead_webhook_is_logged_and_the_drift_counts_as_told(tmp_path):
    live = WebhookListener()
    try:
        monitor = Monitor(tmp_path, [{"url": "http://127.0.0.1:9/down", "style": "slack"},
                                     {"url": live.base + "/g"}])
        proc = monitor.check({"bash": "0.0-1"}, journal=True)
    finally:
        live.close()
    assert proc.returncode == 0
    assert "<4>stackguard-notify: drift event NOT delivered to http://127.0.0.1:9/down (slack)" in proc.stdout
    assert len(live.received) == 1
    assert json.loads(monitor.state.read_text())["change"] == "appeared"


def test_notify_false_records_the_drift_and_sends_nothing(monitor, listeners):
    proc = monitor.check({"bash": "0.0-1"}, notify=False)
    assert proc.returncode == 0 and "drift appeared; notifying" in proc.stdout
    assert listeners[0].received == listeners[1].received == []
    assert json.loads(monitor.state.read_text())["change"] == "appeared"


def test_a_check_that_cannot_run_exits_1_with_success_0_and_tells_nobody(monitor, listeners):
    monitor.check({"bash": "0.0-1"})
    proc = monitor.check({}, package_ranges={"bash": ">= 1, <<"}, manifest={
        "name": "synthetic", "revision": 7, "packages": {"tools": {"bash": BASH}}})
    assert proc.returncode == 1
    assert "the check against synthetic@7 could not run: invalid dpkg constraint" in proc.stdout
    values = [line for line in monitor.metrics.read_text().splitlines() if not line.startswith("#")]
    assert [line.split()[0] for line in values] == [
        "stackguard_stack_check_success", "stackguard_stack_check_last_run_timestamp_seconds"]
    assert values[0] == "stackguard_stack_check_success 0"
    assert len(listeners[1].received) == 1  # only the earlier appearance
    assert json.loads(monitor.state.read_text())["drift"]  # the last known drift is kept


def test_a_missing_configuration_exits_2_and_says_which_file(tmp_path):
    lib = install(tmp_path / "root")
    proc = run([SCRIPT, "--config", tmp_path / "none.json"], lib)
    assert proc.returncode == 2
    assert f"stackguard-drift-check: {tmp_path / 'none.json'} does not exist; the drift_monitor role writes it" \
        in proc.stdout
