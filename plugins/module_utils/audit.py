"""The audit log: one JSON line per play run, built from plain data (see callback stackguard_audit).

A record::

    {"who":  {"user", "controller_host", "ci_run_id"},
     "what": {"playbook", "play", "environment", "release", "stack": {"name", "revision", "digest"},
              "commit", "dirty", "change_ticket" (only when the run has one)},
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


def build_record(*, who, playbook, play, environment, release, stack, git, started, ended, hosts,
                 change_ticket=None):
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
    if change_ticket not in (None, ""):
        record["what"]["change_ticket"] = str(change_ticket)
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


def append_line(path, line, mode=0o600, directory_mode=0o700):
    """Append ``line`` with one write on an O_APPEND descriptor (``mode`` when created), creating
    the parent directories (``directory_mode``); concurrent writers' lines do not interleave on a
    local filesystem. Also writes each host's deployments.jsonl (release_switch)."""
    path = os.path.expanduser(path)
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, mode=directory_mode, exist_ok=True)
    data = line.encode("utf-8")
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)
    try:
        written = os.write(descriptor, data)
        while written < len(data):  # only on a short write (signals, full disk)
            written += os.write(descriptor, data[written:])
    finally:
        os.close(descriptor)


def play_hosts(play):
    """The hosts a play runs on (the run's --limit applied); [] when they cannot be read."""
    try:
        return play.get_variable_manager()._inventory.get_hosts(play.hosts)
    except Exception:
        return []


def play_reader(play):
    """``value(name, *path)``: a variable as the play's first host sees it (extra vars, inventory,
    facts set so far), templated, walking ``path`` into dicts; None when undefined or broken.
    Controller side only (the callbacks): reads nothing but the variables asked for."""
    hosts = play_hosts(play)
    if not hosts:
        return lambda name, *path: None
    from ansible.template import Templar

    manager = play.get_variable_manager()
    variables = manager.get_vars(play=play, host=hosts[0], include_hostvars=False)
    templar = Templar(loader=manager._loader, variables=variables)

    def value(name, *path):
        try:
            found = templar.template(variables[name]) if name in variables else None
            for key in path:
                found = templar.template(found[key]) if isinstance(found, dict) and key in found else None
            return found
        except Exception:  # an undefined or broken variable is not recorded
            return None

    return value


def text_or_none(value):
    return None if value in (None, "") else str(value)


def run_identity(value, git):
    """``{commit, change_ticket}`` of a run: the commit preflight recorded (``preflight_commit``)
    else the playbook checkout's, and the change ticket (confirmed by preflight, else -e
    change_ticket) when there is one. ``value`` is a ``play_reader``."""
    commit = text_or_none(value("preflight_commit")) or (git or {}).get("commit")
    ticket = text_or_none(value("preflight_change_ticket_confirmed")) or text_or_none(value("change_ticket"))
    return {"commit": commit, "change_ticket": ticket}
