"""The on-host drift monitor behind ``stackguard-drift-check`` (the ``drift_monitor`` role's timer).

One run: check the host against its pinned manifest with ``drift_check.check_host`` (the
``stack_verify`` module's code), write a Prometheus textfile-collector file, log one line per drift
item, and notify through ``stackguard-notify`` only when the drift appeared, changed or cleared
since the last run (a small state file remembers it), never every run.

Metrics (the file is replaced atomically: temp file in the same directory, then rename)::

    stackguard_stack_drift{kind="hold",name="apache2",expected="held",actual="not held"} 1
    stackguard_stack_drift_items 1
    stackguard_stack_check_success 1
    stackguard_stack_check_last_run_timestamp_seconds 1700000000

A check that cannot run (a probe fails, the manifest is unusable) writes success 0 and no drift
series, logs why, sends nothing and exits 1, so the service shows as failed. Drift itself exits 0:
it is reported, not an error of the monitor.

The configuration (``/etc/stackguard/drift-monitor.json``, written by the role)::

    {"host": "web1", "manifest": {...}, "groups": ["web"], "package_ranges": {},
     "metrics_file": "/var/lib/prometheus/node-exporter/stackguard_stack.prom",
     "state_file": "/var/lib/stackguard/drift-monitor/state.json",
     "notify": true, "notify_command": ["/usr/local/bin/stackguard-notify"]}

Standard library only; Python 3.9+ (Debian bullseye).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

from ansible.module_utils.drift_check import host_gatherer, check_host
from ansible.module_utils.file_paths import make_dirs

CONFIG_FILE = "/etc/stackguard/drift-monitor.json"
CONFIG_FIELDS = {"host": str, "manifest": dict, "groups": list, "metrics_file": str, "state_file": str}
PROG = "stackguard-drift-check"
NOTIFY_TIMEOUT = 120
STATE_VERSION = 1

# journald reads a "<N>" prefix on a service's stdout as the line's priority (sd-daemon(3)).
WARNING, INFO, ERROR = "<4>", "<6>", "<3>"

METRICS_HELP = (
    ("stackguard_stack_drift", "One series per way this host differs from its pinned stack manifest."),
    ("stackguard_stack_drift_items", "How many drift items the last successful check found."),
    ("stackguard_stack_check_success", "1 when the last check ran, 0 when it could not."),
    ("stackguard_stack_check_last_run_timestamp_seconds", "When the last check ran, Unix time."),
)


class Log:
    """Lines for the journal: priority prefixes when stdout is the journal, plain text otherwise."""

    def __init__(self, stream=None, journal=None):
        self.stream = stream or sys.stdout
        self.journal = bool(os.environ.get("JOURNAL_STREAM")) if journal is None else journal
        self.lines = []

    def __call__(self, priority, text):
        self.lines.append(text)
        print(f"{priority if self.journal else ''}{text}", file=self.stream, flush=True)


def escape_label(value):
    """A Prometheus label value: backslash, double quote and newline escaped."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def series(items):
    """The stackguard_stack_drift lines, one per item, in the check's order."""
    return [
        "stackguard_stack_drift{" + ",".join(
            f'{label}="{escape_label(item[label])}"' for label in ("kind", "name", "expected", "actual"))
        + "} 1"
        for item in items
    ]


def render_metrics(items, now, success=True):
    """The whole textfile-collector file; ``items`` is ignored when the check did not run."""
    values = {
        "stackguard_stack_drift": series(items) if success else [],
        "stackguard_stack_drift_items": [f"stackguard_stack_drift_items {len(items)}"] if success else [],
        "stackguard_stack_check_success": [f"stackguard_stack_check_success {1 if success else 0}"],
        "stackguard_stack_check_last_run_timestamp_seconds": [
            f"stackguard_stack_check_last_run_timestamp_seconds {int(now)}"],
    }
    lines = []
    for name, text in METRICS_HELP:
        lines += [f"# HELP {name} {text}", f"# TYPE {name} gauge", *values[name]]
    return "\n".join(lines) + "\n"


def write_atomic(path, text, mode=0o644):
    """Replace ``path`` with ``text`` at once: a temp file in the same directory, fsync, rename.

    The temp name does not end in .prom, so node-exporter never reads a half-written file.
    """
    directory = os.path.dirname(os.path.abspath(path))
    make_dirs(directory)
    fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def load_config(path):
    """The monitor's configuration; ValueError naming the file and field when it is unusable."""
    try:
        with open(path, encoding="utf-8") as handle:
            config = json.load(handle)
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist; the drift_monitor role writes it") from None
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} is unreadable: {error}") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path}: not a JSON object")
    for field, kind in CONFIG_FIELDS.items():
        if not isinstance(config.get(field), kind):
            raise ValueError(f"{path}: field '{field}' is missing or not a {kind.__name__}; "
                             f"converge the drift_monitor role to rewrite it")
    config.setdefault("package_ranges", {})
    config.setdefault("notify", True)
    config.setdefault("notify_command", ["/usr/local/bin/stackguard-notify"])
    return config


def load_state(path, log):
    """The previous run's state, or None when there is none (first run) or it is unreadable."""
    try:
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        log(WARNING, f"state file {path} is unreadable ({error}); starting afresh")
        return None
    if not isinstance(state, dict) or not isinstance(state.get("drift"), list):
        log(WARNING, f"state file {path} is not a drift monitor state; starting afresh")
        return None
    return state


def _key(item):
    return (item.get("kind"), item.get("name"), str(item.get("expected")), str(item.get("actual")))


def transition(previous, items):
    """``appeared``, ``changed``, ``cleared`` or None (nothing to tell) from the last drift to this one.

    ``previous`` is the last run's drift list, or None on the first run (an in-sync first run has
    nothing to tell; a drifted one is drift that appeared).
    """
    before = sorted(_key(i) for i in (previous or []))
    now = sorted(_key(i) for i in items)
    if before == now:
        return None
    if not before:
        return "appeared"
    return "cleared" if not now else "changed"


def event(change, items, previous, result, config, label):
    """``(status, summary, details)`` for stackguard-notify."""
    host = config["host"]
    before, after = {_key(i) for i in previous or []}, {_key(i) for i in items}
    details = {"stack": label, "groups": config["groups"], "change": change,
               "drift_items": len(items), "drift": items,
               "new": [i for i in items if _key(i) not in before],
               "gone": [i for i in previous or [] if _key(i) not in after]}
    if change == "cleared":
        return "ok", f"drift cleared on {host}: {result['summary']}", details
    return "warning", f"drift {change} on {host}: {result['summary']}", details


def notify(config, status, summary, details, log):
    """Run stackguard-notify; True when it ran (it exits 0 even when a webhook is down)."""
    argv = list(config["notify_command"]) + [
        "--kind", "drift", "--status", status, "--summary", summary,
        "--details-json", json.dumps(details, sort_keys=True)]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, errors="replace",
                              stdin=subprocess.DEVNULL, timeout=NOTIFY_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        log(ERROR, f"could not run {argv[0]}: {error}; will try again next run")
        return False
    for line in (proc.stdout + proc.stderr).splitlines():
        if line.strip():
            log(WARNING if "NOT delivered" in line else INFO, line)
    if proc.returncode != 0:
        log(ERROR, f"{argv[0]} exited {proc.returncode}; will try again next run")
        return False
    return True


def utc(now):
    return datetime.datetime.fromtimestamp(int(now), datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def run(config, gatherer=None, now=None, log=None):
    """One check; the process exit status (0 checked, drift or not; 1 the check could not run)."""
    log = log or Log()
    now = time.time() if now is None else now
    manifest = config["manifest"]
    label = f"{manifest.get('name')}@{manifest.get('revision')}"
    try:
        result = check_host(gatherer or host_gatherer(), manifest, config["groups"],
                            config.get("package_ranges") or {})
    except (RuntimeError, ValueError) as error:
        write_atomic(config["metrics_file"], render_metrics([], now, success=False))
        log(ERROR, f"the check against {label} could not run: {error}")
        return 1
    items = result["drift"]
    write_atomic(config["metrics_file"], render_metrics(items, now))
    for item in items:
        log(WARNING, f"drift: {item['kind']} {item['name']}: expected {item['expected']}, "
                     f"actual {item['actual']}")
    log(WARNING if items else INFO, result["summary"])

    state_file = config["state_file"]
    state = load_state(state_file, log)
    previous = state["drift"] if state else None
    change = transition(previous, items)
    if change is None and state is not None:
        if items:
            log(INFO, f"drift unchanged since {state.get('since')}; not notified again")
        return 0
    if change is not None:
        status, summary, details = event(change, items, previous, result, config, label)
        log(WARNING if status != "ok" else INFO, f"drift {change}; notifying: {summary}")
        if config.get("notify", True) and not notify(config, status, summary, details, log):
            return 0  # state unchanged: the next run tries again
    write_atomic(state_file, json.dumps({
        "version": STATE_VERSION, "stack": label, "drift": items, "since": utc(now),
        "change": change}, indent=2, sort_keys=True) + "\n")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog=PROG, description="Check this host against its pinned stack manifest; write the "
                               "Prometheus metrics; notify when drift appears, changes or clears.")
    parser.add_argument("--config", default=CONFIG_FILE, help=f"default {CONFIG_FILE}")
    args = parser.parse_args(argv)
    log = Log()
    try:
        config = load_config(args.config)
    except ValueError as error:
        log(ERROR, f"{PROG}: {error}")
        return 2
    return run(config, log=log)
