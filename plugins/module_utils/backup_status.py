"""Where monitoring sees each backup run: a JSON status file and a Prometheus textfile.

Every run (a base backup of some kind, a binlog archive run, a restore test) records its outcome
under its kind; both files are rewritten whole from that state and replaced atomically (a
temporary file in the same directory, fsync, rename), so the textfile collector never reads half
a file. The metrics, one series per kind::

    stackguard_backup_last_success_timestamp_seconds{kind="daily"}   last successful run (0: none yet)
    stackguard_backup_last_run_timestamp_seconds{kind="daily"}       last run, whatever its outcome
    stackguard_backup_last_run_success{kind="daily"}                 1 when the last run succeeded
    stackguard_backup_last_size_bytes{kind="daily"}                  what the last successful run stored
    stackguard_backup_last_duration_seconds{kind="daily"}            how long the last run took
    stackguard_backup_binlog_archived_until_timestamp_seconds        newest archived binlog event

``time() - stackguard_backup_last_success_timestamp_seconds{kind="daily"} > 26 * 3600`` or
``{kind="binlog"} > 15 * 60`` are the alerts to set.
"""
import json
import os
import tempfile

from ansible.module_utils.backup_catalog import iso, parse_iso
from ansible.module_utils.file_paths import make_dirs

METRICS = (
    ("last_success_timestamp_seconds", "Unix time of the last successful backup run of this kind (0: none yet)."),
    ("last_run_timestamp_seconds", "Unix time of the last backup run of this kind, whatever its outcome."),
    ("last_run_success", "1 when the last backup run of this kind succeeded, 0 when it failed."),
    ("last_size_bytes", "Bytes the last successful run of this kind stored (compressed dump, binlogs shipped)."),
    ("last_duration_seconds", "Seconds the last run of this kind took."),
)
PREFIX = "stackguard_backup_"


def load(path):
    """The recorded state; an empty one when the file is missing or unreadable (it is rewritten)."""
    try:
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
    except (OSError, ValueError):
        return {"runs": {}}
    return state if isinstance(state, dict) and isinstance(state.get("runs"), dict) else {"runs": {}}


def record(state, kind, ok, at, duration, size=None, error=None, details=None):
    """A new state with this run recorded (the input is left as it was)."""
    runs = dict(state.get("runs") or {})
    previous = dict(runs.get(kind) or {})
    entry = {
        "last_run_at": iso(at),
        "last_status": "ok" if ok else "failed",
        "last_success_at": iso(at) if ok else previous.get("last_success_at"),
        "last_error": None if ok else str(error or "failed"),
        "duration_seconds": round(float(duration), 3),
        "size_bytes": int(size) if ok and size is not None else previous.get("size_bytes"),
        "details": details or {},
    }
    if ok:
        entry["last_success_details"] = details or {}
    elif "last_success_details" in previous:
        entry["last_success_details"] = previous["last_success_details"]
    runs[kind] = entry
    out = dict(state)
    out["runs"] = runs
    out["updated_at"] = iso(at)
    if ok and kind == "binlog" and (details or {}).get("archived_until"):
        out["binlog_archived_until"] = details["archived_until"]
    return out


def _epoch(text):
    return parse_iso(text) if text else 0


def _value(value):
    if isinstance(value, float) and not value.is_integer():
        return repr(value)
    return str(int(value))


def render_metrics(state):
    """The Prometheus text exposition of the state (sorted, so equal states give equal files)."""
    runs = state.get("runs") or {}
    lines = []
    for name, help_text in METRICS:
        lines.append(f"# HELP {PREFIX}{name} {help_text}")
        lines.append(f"# TYPE {PREFIX}{name} gauge")
        for kind in sorted(runs):
            run = runs[kind]
            value = {
                "last_success_timestamp_seconds": _epoch(run.get("last_success_at")),
                "last_run_timestamp_seconds": _epoch(run.get("last_run_at")),
                "last_run_success": 1 if run.get("last_status") == "ok" else 0,
                "last_size_bytes": run.get("size_bytes") or 0,
                "last_duration_seconds": float(run.get("duration_seconds") or 0),
            }[name]
            lines.append(f'{PREFIX}{name}{{kind="{kind}"}} {_value(value)}')
    if state.get("binlog_archived_until"):
        name = "binlog_archived_until_timestamp_seconds"
        lines.append(f"# HELP {PREFIX}{name} Unix time of the newest event in the archived binlogs.")
        lines.append(f"# TYPE {PREFIX}{name} gauge")
        lines.append(f"{PREFIX}{name} {_epoch(state['binlog_archived_until'])}")
    return "\n".join(lines) + "\n"


def write_atomic(path, text, mode=0o644):
    """Replace `path` with `text` whole: temp file in the same directory, fsync, rename."""
    directory = os.path.dirname(os.path.abspath(path))
    make_dirs(directory)
    handle, temporary = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fchmod(out.fileno(), mode)
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    try:
        folder = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except OSError:
        pass


def save(state, status_path, metrics_path):
    write_atomic(status_path, json.dumps(state, indent=2, sort_keys=True) + "\n", 0o644)
    if metrics_path:
        write_atomic(metrics_path, render_metrics(state), 0o644)
