"""What the backup store holds, as plain data: base backups, archived binlogs, chain breaks.

Shared by the retention selection (backup_retention), the restore planner (backup_plan), the
store on the backup host (backup_store) and the jobs on the database host (backup_jobs).

Persisted JSON uses ISO 8601 UTC times (``2026-11-30T23:59:00Z``); the normalized catalog the
planner and retention work on uses whole epoch seconds, the resolution of binlog event times.

A base backup's manifest (``base/<id>/manifest.json``)::

    {"format": 1, "id": "20261130T235900Z-daily", "kind": "daily", "database": "stackguard",
     "source": "db1", "environment": "production", "stack": "php74-apache24@1",
     "created_at": "...", "finished_at": "...",
     "consistent_at": "...",          # the snapshot: the dump holds every commit before it
     "binlog": {"file": "mariadb-bin.000012", "position": 389},
     "server_version": "10.5.29-MariaDB-0+deb11u1-log", "server_id": 1,
     "tool": "mariadb-dump --single-transaction --master-data=2 --flush-logs",
     "dump": {"file": "dump.sql.gz", "sha256": "...", "size": 1234, "uncompressed_size": 5678},
     "duration_seconds": 1.2}

An archived binlog's sidecar (``binlogs/<key>.json``, key ``<started_at stamp>_<name>``) is
backup_binlog.read_binlog's answer with ISO times, plus ``sha256``. A chain break
(``markers/<id>.json``) records an in-place restore: the binlogs from ``from`` on cannot be
replayed onto a base taken before it.
"""
import calendar
import datetime
import re

FORMAT = 1
BASE_KINDS = ("daily", "pre_deploy", "manual", "safety", "after_restore")
BASE_ID = re.compile(r"^(?P<stamp>[0-9]{8}T[0-9]{6}Z)-(?P<kind>[a-z_]+)(?:-(?P<n>[0-9]{1,3}))?$")
BINLOG_KEY = re.compile(r"^(?P<stamp>[0-9]{8}T[0-9]{6}Z)_(?P<name>[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}\.[0-9]{6,})$")
MARKER_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[a-z_]+$")
FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}$")
SOURCE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,100}$")
TIME = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?\s*(Z|UTC|[+-]00:?00)?\s*$",
                  re.IGNORECASE)
UTC = datetime.timezone.utc


class CatalogError(ValueError):
    """A name, time or manifest that the backup tools refuse."""


# --- times ---------------------------------------------------------------------------------------

def iso(epoch):
    """Whole epoch seconds -> '2026-11-30T23:59:00Z'."""
    return datetime.datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def human(epoch):
    """Whole epoch seconds -> '2026-11-30 23:59:00' (the form restore_to takes)."""
    return datetime.datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%d %H:%M:%S")


def stamp(epoch):
    """Whole epoch seconds -> '20261130T235900Z' (ids and keys; sorts like time)."""
    return datetime.datetime.fromtimestamp(int(epoch), UTC).strftime("%Y%m%dT%H%M%SZ")


def parse_stamp(text):
    try:
        moment = datetime.datetime.strptime(text, "%Y%m%dT%H%M%SZ")
    except (TypeError, ValueError):
        raise CatalogError(f"{text!r} is not a time stamp like 20261130T235900Z") from None
    return calendar.timegm(moment.timetuple())


def parse_time(text, what="time"):
    """'2026-11-30 14:05:00' (UTC; also with a T, a Z or +00:00) -> epoch seconds.

    Anything else, including another time zone, is refused: every time here is UTC, and a
    silently converted local time is how a restore lands an hour off.
    """
    match = TIME.match(text) if isinstance(text, str) else None
    if not match:
        raise CatalogError(f"{what} {text!r} is not a UTC time like '2026-11-30 14:05:00'")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    try:
        moment = datetime.datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as exc:
        raise CatalogError(f"{what} {text!r} is not a valid time: {exc}") from None
    return calendar.timegm(moment.timetuple())


def parse_iso(text, what="time"):
    return parse_time(text, what)


# --- names ---------------------------------------------------------------------------------------

def base_id(epoch, kind, n=0):
    if kind not in BASE_KINDS:
        raise CatalogError(f"backup kind {kind!r} is not one of {', '.join(BASE_KINDS)}")
    return f"{stamp(epoch)}-{kind}" + (f"-{n}" if n else "")


def check_base_id(text):
    match = BASE_ID.match(text or "")
    if not match or match.group("kind") not in BASE_KINDS:
        raise CatalogError(f"{text!r} is not a base backup id like 20261130T235900Z-daily")
    parse_stamp(match.group("stamp"))
    return text


def binlog_key(started_at, name):
    return f"{stamp(started_at)}_{name}"


def split_binlog_key(key):
    match = BINLOG_KEY.match(key or "")
    if not match:
        raise CatalogError(f"{key!r} is not an archived binlog key like 20261130T140500Z_mariadb-bin.000012")
    return parse_stamp(match.group("stamp")), match.group("name")


def check_file_name(name):
    if not FILE_NAME.match(name or "") or name in (".", ".."):
        raise CatalogError(f"{name!r} is not a plain file name")
    return name


def check_marker_id(text):
    if not MARKER_ID.match(text or ""):
        raise CatalogError(f"{text!r} is not a marker id like 20261130T140500Z-in_place_restore")
    return text


def check_source(name):
    if not SOURCE_NAME.match(name or "") or name in (".", ".."):
        raise CatalogError(f"{name!r} is not a source host name")
    return name


# --- versions ------------------------------------------------------------------------------------

def server_major(version):
    """'10.5.29-MariaDB-0+deb11u1-log' -> '10.5' (MariaDB's major release: the first two numbers)."""
    match = re.match(r"^\s*(\d+)\.(\d+)", str(version or ""))
    if not match:
        raise CatalogError(f"{version!r} is not a MariaDB server version")
    return f"{match.group(1)}.{match.group(2)}"


# --- manifests and the catalog -------------------------------------------------------------------

MANIFEST_FIELDS = ("id", "kind", "database", "consistent_at", "binlog", "server_version", "dump")


def manifest_problems(manifest):
    """Why a manifest cannot be used (empty list when it can)."""
    if not isinstance(manifest, dict):
        return ["manifest.json is not a JSON object"]
    problems = [f"manifest field '{f}' is missing" for f in MANIFEST_FIELDS if f not in manifest]
    if problems:
        return problems
    if manifest.get("format") != FORMAT:
        problems.append(f"manifest format {manifest.get('format')!r} is not {FORMAT}")
    try:
        check_base_id(manifest["id"])
        parse_iso(manifest["consistent_at"], "consistent_at")
        server_major(manifest["server_version"])
    except CatalogError as exc:
        problems.append(str(exc))
    binlog, dump = manifest["binlog"], manifest["dump"]
    if not (isinstance(binlog, dict) and isinstance(binlog.get("file"), str)
            and isinstance(binlog.get("position"), int) and binlog["position"] >= 4):
        problems.append("manifest field 'binlog' must be {file, position >= 4}")
    if not (isinstance(dump, dict) and isinstance(dump.get("file"), str)
            and re.match(r"^[0-9a-f]{64}$", str(dump.get("sha256"))) and isinstance(dump.get("size"), int)):
        problems.append("manifest field 'dump' must be {file, sha256, size}")
    return problems


def normalize_base(entry):
    """A store listing's base entry -> the planner's view, or None when it is not usable.

    The entry is {id, manifest, files: {name: size}}; a base is good when its manifest is whole and
    its dump is there at the recorded size (the store checked the sha256 when it arrived).
    """
    manifest = entry.get("manifest")
    problems = list(entry.get("problems") or []) + manifest_problems(manifest)
    if not problems and manifest["id"] != entry.get("id"):
        problems.append(f"manifest id {manifest['id']!r} differs from its directory {entry.get('id')!r}")
    if not problems:
        size = (entry.get("files") or {}).get(manifest["dump"]["file"])
        if size is None:
            problems.append(f"dump file {manifest['dump']['file']} is missing")
        elif size != manifest["dump"]["size"]:
            problems.append(f"dump file {manifest['dump']['file']} has {size} bytes, the manifest says "
                            f"{manifest['dump']['size']}")
    if problems:
        return {"id": entry.get("id"), "good": False, "problems": problems}
    return {"id": manifest["id"], "good": True, "problems": [], "kind": manifest["kind"],
            "database": manifest["database"], "consistent_at": parse_iso(manifest["consistent_at"]),
            "file": manifest["binlog"]["file"], "position": manifest["binlog"]["position"],
            "server_version": manifest["server_version"], "dump": dict(manifest["dump"]),
            "manifest": manifest}


def normalize_binlog(meta):
    """An archived binlog's sidecar -> the planner's view (epoch times)."""
    for field in ("key", "name", "sha256", "size", "started_at", "last_event_at", "end", "next"):
        if field not in meta:
            raise CatalogError(f"archived binlog {meta.get('key') or meta.get('name')!r}: field '{field}' is missing")
    out = dict(meta)
    out["started_at"] = parse_iso(meta["started_at"], "started_at")
    out["last_event_at"] = parse_iso(meta["last_event_at"], "last_event_at")
    return out


def normalize_marker(marker):
    for field in ("id", "at", "binlog"):
        if field not in marker:
            raise CatalogError(f"chain-break marker {marker.get('id')!r}: field '{field}' is missing")
    out = dict(marker)
    out["at"] = parse_iso(marker["at"], "at")
    return out


def base_order(base):
    """Oldest first: the consistent point, then the binlog position the base starts at (two base
    backups within one second, such as an in-place restore's safety and after-restore backups)."""
    match = re.match(r"^.*\.([0-9]+)$", str(base.get("file") or ""))
    return base["consistent_at"], int(match.group(1)) if match else 0, base.get("position", 0), base["id"]


def normalize(listing):
    """The store's `list` answer -> {bases (good and not), binlogs, markers}, each oldest first."""
    bases = [normalize_base(entry) for entry in listing.get("bases") or []]
    good = sorted((b for b in bases if b["good"]), key=base_order)
    bad = sorted((b for b in bases if not b["good"]), key=lambda b: str(b["id"]))
    binlogs = sorted((normalize_binlog(m) for m in listing.get("binlogs") or []),
                     key=lambda b: (b["started_at"], b["name"]))
    markers = sorted((normalize_marker(m) for m in listing.get("markers") or []), key=lambda m: m["at"])
    return {"source": listing.get("source"), "bases": good, "bad_bases": bad, "binlogs": binlogs,
            "markers": markers}
