"""Plan a point-in-time restore from the catalog: which base, which binlogs, where to stop.

Pure and data-driven: the same planner answers the restore playbook (in check mode too), the
weekly restore test and the database host's own command, and every refusal says what was
refused, why, and what to do instead. Nothing here touches a file or a server.

A point (``restore_to``) is one of:

- ``latest``: the newest good base backup and every archived binlog after it;
- a UTC time, ``2026-11-30 14:05:00``: the state just before that second (every transaction
  whose binlog events are older than it; mariadb-binlog --stop-datetime);
- a binlog position, ``mariadb-bin.000014:1234``: every event that starts before byte 1234 of that
  file (mariadb-binlog --stop-position); the position of the first event to leave out, as
  ``SHOW BINLOG EVENTS`` prints it.

The base is the newest good one strictly before the point (for a time: its consistent point is
older than the point). The binlogs are its chain: the file the base starts in, then each file's
successor (the name its rotate event gives, or the next number after a stop or a crash) until the
file the point lies in. Refusals: a point before the oldest base backup or after the newest
archived binlog, a gap in the chain, a chain broken by an in-place restore, a base backup or
binlog from another major server version.
"""
import re

from ansible.module_utils.backup_binlog import BinlogError, split_name
from ansible.module_utils.backup_catalog import CatalogError, base_order, human, parse_time, server_major

POSITION = re.compile(r"^\s*(?P<file>[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}\.[0-9]{6,}):(?P<position>[0-9]{1,19})\s*$")


class RestoreRefused(Exception):
    """A restore that must not run; the message says why and what to do instead."""


def parse_point(text):
    """restore_to -> {kind: latest} | {kind: time, at, text} | {kind: position, file, position}."""
    if not isinstance(text, str) or not text.strip():
        raise RestoreRefused(
            "restore_to is required: -e restore_to='2026-11-30 14:05:00' (UTC), "
            "-e restore_to=latest, or -e restore_to=mariadb-bin.000014:1234 (a binlog position)")
    value = text.strip()
    if value.lower() == "latest":
        return {"kind": "latest", "text": "latest"}
    match = POSITION.match(value)
    if match:
        position = int(match.group("position"))
        if position < 4:
            raise RestoreRefused(f"restore_to {value!r}: a binlog position is at least 4 (the first event "
                                 f"starts after the 4-byte header); give the position of the first event to "
                                 f"leave out, as SHOW BINLOG EVENTS prints it, a UTC time, or latest")
        return {"kind": "position", "file": match.group("file"), "position": position, "text": value}
    if re.match(r"^\d{4}-\d{2}-\d{2}$", value):
        raise RestoreRefused(
            f"restore_to {value!r} is a date without its time. With -e, a space ends the value unless the "
            f"whole assignment is quoted: -e \"restore_to='{value} 14:05:00'\", or write {value}T14:05:00 "
            f"(UTC). Nothing was changed.")
    try:
        return {"kind": "time", "at": parse_time(value, "restore_to"), "text": value}
    except CatalogError as exc:
        raise RestoreRefused(
            f"{exc}; restore_to takes a UTC time ('2026-11-30 14:05:00'), latest, or a binlog "
            f"position (mariadb-bin.000014:1234)") from None


def describe(point):
    if point["kind"] == "latest":
        return "latest (everything archived)"
    if point["kind"] == "time":
        return f"{human(point['at'])} UTC"
    return f"{point['file']}:{point['position']}"


def _order(binlog):
    """Archive order: start time, then the file number (files flushed within one second)."""
    try:
        base, seq = split_name(binlog["name"])
    except BinlogError:
        base, seq = binlog["name"], 0
    return binlog["started_at"], base, seq


class Chain:
    """The archived binlogs, and how to walk from one to the next."""

    def __init__(self, binlogs):
        self.binlogs = sorted(binlogs, key=_order)

    def start_of(self, base):
        """The archived file the base starts in: its name, begun no later than the base's snapshot."""
        named = [b for b in self.binlogs if b["name"] == base["file"] and b["started_at"] <= base["consistent_at"]]
        return named[-1] if named else None

    def successor(self, binlog):
        named = [b for b in self.binlogs if b["name"] == binlog["next"] and b["started_at"] >= binlog["started_at"]
                 and b is not binlog]
        return named[0] if named else None

    def newer_than(self, binlog_or_time):
        if isinstance(binlog_or_time, int):
            return [b for b in self.binlogs if b["started_at"] > binlog_or_time]
        return [b for b in self.binlogs if _order(b) > _order(binlog_or_time)]

    def walk(self, base):
        """(files from the base's start file on, None or the name of the first missing file).

        The walk stops at the end of the archive (missing None) or at a gap: a successor that is
        not archived while newer files are (missing names it).
        """
        first = self.start_of(base)
        if first is None:
            missing = base["file"] if self.newer_than(base["consistent_at"]) else None
            return [], missing
        files, current = [first], first
        while True:
            following = self.successor(current)
            if following is None:
                later = [b for b in self.newer_than(current) if b not in files]
                return files, (current["next"] if later else None)
            files.append(following)
            current = following


def _summary(base):
    return {"id": base["id"], "kind": base["kind"], "consistent_at": human(base["consistent_at"]),
            "binlog": {"file": base["file"], "position": base["position"]},
            "server_version": base["server_version"], "dump": base["dump"],
            "database_defaults": (base.get("manifest") or {}).get("database_defaults")}


def _file_summary(binlog):
    return {key: binlog[key] for key in ("key", "name", "sha256", "size", "next")} | {
        "started_at": human(binlog["started_at"]), "last_event_at": human(binlog["last_event_at"])}


def _check_versions(base, files, server_version):
    if not server_version:
        return
    want = server_major(server_version)
    if server_major(base["server_version"]) != want:
        raise RestoreRefused(
            f"base backup {base['id']} was taken on MariaDB {base['server_version']} "
            f"(major {server_major(base['server_version'])}); this server runs {server_version} (major {want}). "
            f"A dump is restored only onto the major version that wrote it: restore on a "
            f"{server_major(base['server_version'])} server, or choose a point after a base backup taken on {want}.")
    for binlog in files:
        version = binlog.get("server_version")
        if version and server_major(version) != want:
            raise RestoreRefused(
                f"archived binlog {binlog['name']} was written by MariaDB {version}; this server runs "
                f"{server_version}. Binlogs are replayed only on the major version that wrote them: "
                f"choose a point before {human(binlog['started_at'])} UTC or restore on a "
                f"{server_major(version)} server.")


def _refuse_gap(base, missing, last):
    after = f"after {last['name']}, which ends {human(last['last_event_at'])} UTC" if last else \
        f"where base backup {base['id']} starts"
    until = human(last["last_event_at"]) if last else human(base["consistent_at"])
    raise RestoreRefused(
        f"gap in the binlog chain: {missing} ({after}) is not in the archive, while later binlogs "
        f"are. Base backup {base['id']} cannot be rolled forward past it: choose a point up to "
        f"{until} UTC, or one after a base backup taken after the gap.")


def _check_breaks(base, files, point, markers):
    """Refuse when an in-place restore's marker lies in the replayed range: in one of the files
    replayed (after the base's start in its first file), before the point."""
    names = [f["name"] for f in files]
    for marker in markers:
        where = marker.get("binlog") or {}
        if where.get("file") not in names:
            continue
        position = int(where.get("position", 0))
        if where["file"] == base["file"] and position < base["position"]:
            continue
        if point["kind"] == "time" and marker["at"] >= point["at"]:
            continue
        if point["kind"] == "position" and where["file"] == point["file"] and position >= point["position"]:
            continue
        raise RestoreRefused(
            f"an in-place restore at {human(marker['at'])} UTC ({marker['id']}) lies between base "
            f"backup {base['id']} and {describe(point)}: binlogs cannot be replayed across it. Choose a "
            f"point before {human(marker['at'])} UTC, or after the base backup taken after that restore.")


def plan(catalog, restore_to, server_version=None, database=None):
    """The restore plan for `restore_to`, or RestoreRefused.

    {point, base, binlogs: [{key, name, sha256, size, ...}], start_position, stop: None |
    {datetime} | {position}, restores_until}.
    """
    point = parse_point(restore_to) if isinstance(restore_to, str) else restore_to
    bases = sorted((b for b in catalog.get("bases") or [] if database is None or b["database"] == database),
                   key=base_order)
    source = catalog.get("source") or "this host"
    if not bases:
        raise RestoreRefused(
            f"there is no good base backup of database {database or '(any)'} from {source} in the "
            f"archive: nothing to restore from. Take one (stackguard-backup base) and archive the binlogs.")
    chain = Chain(catalog.get("binlogs") or [])
    markers = catalog.get("markers") or []
    oldest = bases[0]
    if point["kind"] == "position":
        base, files = _plan_position(point, bases, chain, markers)
        stop = {"position": point["position"]}
        until = f"{point['file']}:{point['position']}"
    else:
        if point["kind"] == "latest":
            base = bases[-1]
        else:
            if point["at"] <= oldest["consistent_at"]:
                raise RestoreRefused(
                    f"restore_to {describe(point)} is before the oldest base backup "
                    f"({oldest['id']}, consistent at {human(oldest['consistent_at'])} UTC): there is "
                    f"nothing to restore it from. The earliest point that can be restored is "
                    f"{human(oldest['consistent_at'] + 1)} UTC.")
            base = [b for b in bases if b["consistent_at"] < point["at"]][-1]
        walked, missing = chain.walk(base)
        files = []
        for binlog in walked:
            files.append(binlog)
            if point["kind"] == "time" and binlog["last_event_at"] >= point["at"]:
                break
        reached = point["kind"] == "time" and files and files[-1]["last_event_at"] >= point["at"]
        if not reached and missing:
            _refuse_gap(base, missing, files[-1] if files else None)
        covered = files[-1]["last_event_at"] if files else base["consistent_at"]
        if point["kind"] == "time" and not reached and point["at"] > covered:
            raise RestoreRefused(
                f"restore_to {describe(point)} is after the newest archived binlog, which ends "
                f"{human(covered)} UTC: what happened after that is not in the archive. Use "
                f"restore_to=latest for everything archived, or a point up to {human(covered)} UTC.")
        _check_breaks(base, files, point, markers)
        if point["kind"] == "time":
            stop = {"datetime": human(point["at"])}
            until = f"{human(point['at'])} UTC (exclusive)"
        else:
            stop = None
            until = f"{human(covered)} UTC (end of the newest archived binlog)"
    _check_versions(base, files, server_version)
    return {"point": describe(point), "point_kind": point["kind"], "base": _summary(base),
            "binlogs": [_file_summary(b) for b in files], "start_position": base["position"],
            "stop": stop, "restores_until": until}


def _plan_position(point, bases, chain, markers):
    named = [b for b in chain.binlogs if b["name"] == point["file"]]
    if not named:
        raise RestoreRefused(
            f"restore_to {describe(point)}: binlog {point['file']} is not in the archive. List the "
            f"archived binlogs with stackguard-backup list, or give a UTC time instead.")
    target = named[-1]
    end = target.get("end_position", target["size"])
    if point["position"] > end:
        raise RestoreRefused(
            f"restore_to {describe(point)}: {point['file']} ends at byte {end}; give a position inside it.")
    for base in reversed(bases):
        start = chain.start_of(base)
        if start is None:
            if base["consistent_at"] > target["last_event_at"]:
                continue  # taken after the point's file ended
            _refuse_gap(base, base["file"], None)
        if _order(start) > _order(target) or (start is target and base["position"] > point["position"]):
            continue  # the base was taken after the point
        walked, missing = chain.walk(base)
        if target not in walked:
            _refuse_gap(base, missing or target["name"], walked[-1])
        files = walked[:walked.index(target) + 1]
        _check_breaks(base, files, point, markers)
        return base, files
    oldest = bases[0]
    raise RestoreRefused(
        f"restore_to {describe(point)} is before the oldest base backup ({oldest['id']}, which "
        f"starts at {oldest['file']}:{oldest['position']}): there is nothing to restore it from.")
