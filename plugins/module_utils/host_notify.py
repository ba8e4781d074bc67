"""The logic behind ``stackguard-notify``, the host-side command every on-host timer notifies with.

::

    stackguard-notify --kind KIND --status ok|failed|warning --summary "..." [--details-json '{...}']

The event goes to every webhook listed in ``/etc/stackguard/webhooks.json`` (``[{url, style}]``,
0600 root, rendered by the ``host_tools`` role from the inventory's ``stackguard_webhooks``), with
the environment and host name from ``/etc/stackguard/host.json``, through
``ansible.module_utils.notify`` (the payloads and delivery the controller's ``notify_webhooks``
action uses).

It never fails its caller: a webhook that is down, a missing or unreadable configuration file and
details that are not valid JSON are reported on stderr (the journal, under a timer) and the command
still exits 0. Only a wrong command line (a caller's bug, found the first time it runs) exits 2.
``STACKGUARD_CONFIG_DIR`` in the environment replaces ``/etc/stackguard`` (the tests use it).
Standard library only; Python 3.9+ (Debian bullseye).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from ansible.module_utils.notify import normalize, send_all

CONFIG_DIR = "/etc/stackguard"
STATUSES = ("ok", "failed", "warning")
PROG = "stackguard-notify"


def read_json(path, expected_type, errors):
    """The JSON value in ``path`` when it is of ``expected_type``; else None, and why in ``errors``."""
    try:
        with open(path, encoding="utf-8") as handle:
            value = json.load(handle)
    except FileNotFoundError:
        errors.append(f"{path} does not exist (the host_tools role writes it)")
        return None
    except (OSError, ValueError) as error:
        errors.append(f"{path} is unreadable: {error}")
        return None
    if not isinstance(value, expected_type):
        errors.append(f"{path} holds a {type(value).__name__}, not a {expected_type.__name__}")
        return None
    return value


def load_webhooks(path, errors):
    """``[{url, style}]`` from ``path``; entries without a url are reported and skipped."""
    hooks = []
    for index, hook in enumerate(read_json(path, list, errors) or []):
        if isinstance(hook, dict) and hook.get("url"):
            hooks.append({"url": str(hook["url"]), "style": hook.get("style") or "generic"})
        else:
            errors.append(f"{path}: entry {index} has no url; skipped")
    return hooks


def parse_details(text, errors):
    """The --details-json object, or a note saying it was not one (the event is sent anyway)."""
    if text is None:
        return {}
    try:
        details = json.loads(text)
    except ValueError as error:
        errors.append(f"--details-json is not valid JSON ({error}); sent without those details")
        return {"details_error": "the caller's --details-json was not valid JSON"}
    if not isinstance(details, dict):
        errors.append("--details-json is not a JSON object; sent as details.value")
        return {"value": details}
    return details


def build_event(args, host, details):
    """The event for ``notify``: kind, status, summary, details, plus the host's environment and name."""
    event = {"kind": args.kind, "status": args.status, "summary": args.summary,
             "environment": host.get("environment") or None, "details": dict(details)}
    if host.get("host"):
        event["host"] = str(host["host"])
        event["details"].setdefault("host", event["host"])
    return normalize(event)


def parser():
    p = argparse.ArgumentParser(
        prog=PROG, description="Post an event to the webhooks in /etc/stackguard/webhooks.json. "
                               "Exits 0 even when a webhook is down; failures go to stderr.")
    p.add_argument("--kind", required=True, help="deploy, rollback, drift, backup, ...")
    p.add_argument("--status", required=True, choices=STATUSES)
    p.add_argument("--summary", required=True, help="one line")
    p.add_argument("--details-json", help="a JSON object with anything else worth sending")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per webhook (default 5)")
    return p


def main(argv=None, config_dir=None, stdout=None, stderr=None):
    """Run the command; returns its exit status (0 unless the command line is wrong)."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    config_dir = config_dir or os.environ.get("STACKGUARD_CONFIG_DIR") or CONFIG_DIR
    try:
        args = parser().parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    if not args.kind.strip() or not args.summary.strip():
        print(f"{PROG}: --kind and --summary must not be empty", file=stderr)
        return 2

    errors = []
    host = read_json(os.path.join(config_dir, "host.json"), dict, errors) or {}
    webhooks_file = os.path.join(config_dir, "webhooks.json")
    webhooks = load_webhooks(webhooks_file, errors)
    event = build_event(args, host, parse_details(args.details_json, errors))
    for error in errors:
        print(f"{PROG}: {error}", file=stderr)
    if not webhooks:
        print(f"{PROG}: no webhooks configured in {webhooks_file}; the {event['kind']} event "
              f"({event['status']}: {event['summary']}) was not sent", file=stdout)
        return 0
    results = send_all(webhooks, event, timeout=args.timeout)
    for hook, result in zip(webhooks, results):
        where = f"{result['url']} ({hook['style']})"
        if result["ok"]:
            print(f"{PROG}: {event['kind']} event sent to {where}: HTTP {result['status']}", file=stdout)
        else:
            print(f"{PROG}: {event['kind']} event NOT delivered to {where}: {result['error']}",
                  file=stderr)
    sent = sum(1 for r in results if r["ok"])
    print(f"{PROG}: {sent} of {len(results)} webhook(s) took the {event['kind']} event", file=stdout)
    return 0

