"""The audit log: one JSON line per play run, built from plain data (see callback stackguard_audit).

A record::

    {"who":  {"user", "controller_host", "ci_run_id"},
     "what": {"playbook", "play", "environment", "release", "stack": {"name", "revision", "digest"},
              "commit", "dirty"},
     "when": {"started", "ended", "seconds"},
     "hosts": {"<host>": {"ok", "changed", "failed", "unreachable", "skipped"}},
     "totals": {"ok", "changed", "failed", "unreachable", "skipped", "hosts"}}

Only these fields are ever recorded (never a variable other than the few read by the callback),
and the whole record (but the per-host counts, keyed by host name) goes through ``notify.redact``
before it is written, so a secret-looking key cannot reach the file even by mistake.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess

from ansible.module_utils.notify import redact

COUNTS = ("ok", "changed", "failed", "unreachable", "skipped")
CI_RUN_ID_VARIABLES = ("GITHUB_RUN_ID", "CI_PIPELINE_ID", "STACKGUARD_CI_RUN_ID")
DEFAULT_LOG_PATH = "~/.local/state/stackguard/audit.jsonl"


def iso_utc(timestamp):
    """An epoch timestamp as ISO 8601 UTC with a Z, to the second; None stays None."""
    if timestamp is None:
        return None
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def ci_run_id(environ):
    """The CI run's id from the first of GITHUB_RUN_ID, CI_PIPELINE_ID, STACKGUARD_CI_RUN_ID set."""
    for name in CI_RUN_ID_VARIABLES:
        if environ.get(name):
            return str(environ[name])
    return None


def who(user, controller_host, environ):
    return {"user": user, "controller_host": controller_host, "ci_run_id": ci_run_id(environ)}


def host_counts(counts):
    """``{ok, changed, failed, unreachable, skipped}`` as ints from a counts dict.

    Also takes Ansible's ``AggregateStats.summarize`` names (``failures``).
    """
    counts = counts or {}
    out = {name: int(counts.get(name) or 0) for name in COUNTS}
    if "failures" in counts and "failed" not in counts:
        out["failed"] = int(counts["failures"] or 0)
    return out


def totals(hosts):
    out = {name: sum(c[name] for c in hosts.values()) for name in COUNTS}
    out["hosts"] = len(hosts)
    return out


def stack_info(manifest=None, pin=None):
    """The stack run: from the preflight role's loaded manifest (with its digest) when set, else
    from the inventory's ``stackguard_stack`` pin (digest None), else all None."""
    for source in (manifest, pin):
        if isinstance(source, dict) and source.get("name"):
            return {"name": str(source["name"]),
                    "revision": source.get("revision"),
                    "digest": source.get("digest") if source is manifest else None}
    return {"name": None, "revision": None, "digest": None}


def release_version(release):
    """``stackguard_app_release.version`` when defined."""
    if isinstance(release, dict) and release.get("version") not in (None, ""):
        return str(release["version"])
    return None


def git_state(directory, run=subprocess.run):
    """``{"commit", "dirty"}`` of the git checkout holding ``directory``; both None outside one."""
    unknown = {"commit": None, "dirty": None}
    try:
        head = run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return unknown
        status = run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=directory,
                     capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return unknown
    return {"commit": head.stdout.strip() or None,
            "dirty": bool(status.stdout.strip()) if status.returncode == 0 else None}


def relative_path(path, cwd):
    """``path`` relative to ``cwd`` when it is below it, else absolute."""
    if not path:
        return None
    path = os.path.abspath(path)
    try:
        relative = os.path.relpath(path, cwd)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative


def build_record(*, who, playbook, play, environment, release, stack, git, started, ended, hosts):
    """One audit record. ``started``/``ended`` are epoch seconds; ``hosts`` maps a host to its
    counts (see ``host_counts``); ``git`` is ``git_state``'s result."""
    per_host = {str(host): host_counts(counts) for host, counts in sorted((hosts or {}).items())}
    git = git or {}
    record = {
        "who": who,
        "what": {
            "playbook": playbook,
            "play": play,
            "environment": environment,
            "release": release,
            "stack": stack or stack_info(),
            "commit": git.get("commit"),
            "dirty": git.get("dirty"),
        },
        "when": {
            "started": iso_utc(started),
            "ended": iso_utc(ended),
            "seconds": round(max(0.0, ended - started), 3) if started is not None and ended is not None else None,
        },
        "hosts": per_host,
        "totals": totals(per_host),
    }
    return _redacted(record)


def _redacted(record):
    # Host names are keys too ("vault1", "keyserver"): the per-host map holds only counts, so it
    # is kept as is, and everything else is redacted.
    hosts = record.get("hosts")
    out = redact({k: v for k, v in record.items() if k != "hosts"})
    if hosts is not None:
        out["hosts"] = {str(h): host_counts(c) for h, c in hosts.items()}
    return out


def to_line(record):
    """The record as one JSON line (redacted again, keys sorted, no newline inside)."""
    return json.dumps(_redacted(record), sort_keys=True, default=str, separators=(",", ":")) + "\n"


def append_line(path, line):
    """Append ``line`` with one write on an O_APPEND descriptor (0600 when created), creating the
    parent directories; concurrent writers' lines do not interleave on a local filesystem."""
    path = os.path.expanduser(path)
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    data = line.encode("utf-8")
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        written = os.write(descriptor, data)
        while written < len(data):  # only on a short write (signals, full disk)
            written += os.write(descriptor, data[written:])
    finally:
        os.close(descriptor)
