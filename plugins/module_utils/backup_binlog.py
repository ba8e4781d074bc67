"""Read what a MariaDB binary log file says about itself, from its event headers.

A binlog is the 4-byte magic ``\\xfebin`` followed by events; each event starts with a 19-byte
header (timestamp, type, server id, event size, next position, flags). Walking the headers is
enough to learn, without the server and without mariadb-binlog:

- when the file was started (the format description event's timestamp) and which server and
  server version wrote it (its body);
- the time of its newest event;
- how it ends: ``rotate`` (FLUSH LOGS or a full file; the rotate event names the next file),
  ``stop`` (a clean shutdown; the next file is the next number), or ``open`` (still being written,
  or cut short by a crash: the format description's in-use flag, or a torn last event).

The restore planner follows these ``next`` names to find a gap in an archived chain, and the
archive uses ``started_at`` and the name as the archived file's key, so that a server whose
numbering restarted (a new host after a disaster) never collides with older archived files.
Pure Python, standard library only: the same code runs on the database host (archiving), on the
backup host (the store checks what it receives) and in the tests.
"""
import re
import struct

MAGIC = b"\xfebin"
HEADER = struct.Struct("<IBIIIH")  # timestamp, type, server_id, event_size, next position, flags
HEADER_SIZE = HEADER.size  # 19
FORMAT_DESCRIPTION_EVENT = 15
ROTATE_EVENT = 4
STOP_EVENT = 3
START_ENCRYPTION_EVENT = 164
GTID_LIST_EVENT = 163
BINLOG_CHECKPOINT_EVENT = 161
# What a file holds before anything happened in it: written at its start, and the checkpoint the
# server adds once the previous file's transactions are durable.
HOUSEKEEPING = (FORMAT_DESCRIPTION_EVENT, GTID_LIST_EVENT, BINLOG_CHECKPOINT_EVENT)
BINLOG_IN_USE = 0x1
CHECKSUM_NONE = 0
CHECKSUM_SIZE = 4
NAME = re.compile(r"^(?P<base>[A-Za-z0-9_][A-Za-z0-9_.-]{0,200})\.(?P<seq>[0-9]{6,})$")


class BinlogError(ValueError):
    """The file is not a readable MariaDB binary log."""


def split_name(name):
    """'mariadb-bin.000012' -> ('mariadb-bin', 12); BinlogError for anything else."""
    match = NAME.match(name or "")
    if not match:
        raise BinlogError(f"{name!r} is not a binary log name (<basename>.<6+ digit number>)")
    return match.group("base"), int(match.group("seq"))


def next_name(name):
    """The name the server gives the file after `name` when it starts a new one by number."""
    base, seq = split_name(name)
    width = len(name) - len(base) - 1
    return f"{base}.{seq + 1:0{width}d}"


def _format_description(body):
    """(server version, checksum algorithm) from a format description event's body."""
    version = body[2:52].split(b"\0", 1)[0].decode("ascii", "replace")
    # The checksum algorithm is the byte before the 4-byte checksum, when the event carries one
    # (MariaDB 5.3+ always writes it; an algorithm byte of 0 means no checksums).
    algorithm = body[-5] if len(body) >= 5 + 57 else CHECKSUM_NONE
    return version, algorithm


def read_header(path):
    """The format description event alone: {started_at, server_id, server_version, in_use}.

    Cheap (a few hundred bytes), so the archive can key every local file without reading it all.
    """
    with open(path, "rb") as handle:
        head = handle.read(4 + HEADER_SIZE + 512)
    return _parse_first_event(head, path)


def _parse_first_event(data, path):
    if data[:4] != MAGIC:
        raise BinlogError(f"{path}: not a MariaDB binary log (no \\xfebin magic)")
    if len(data) < 4 + HEADER_SIZE:
        raise BinlogError(f"{path}: too short for a format description event")
    timestamp, kind, server_id, size, _, flags = HEADER.unpack_from(data, 4)
    if kind != FORMAT_DESCRIPTION_EVENT or size < HEADER_SIZE + 57 or len(data) < 4 + size:
        raise BinlogError(f"{path}: the first event is not a format description event")
    version, algorithm = _format_description(data[4 + HEADER_SIZE:4 + size])
    return {"started_at": timestamp, "server_id": server_id, "server_version": version,
            "in_use": bool(flags & BINLOG_IN_USE), "checksum": algorithm}


def read_binlog(path, name=None):
    """Everything the archive and the planner need about one binlog file.

    {name, size, started_at, last_event_at, server_id, server_version, events, end, next,
    end_position, in_use}. `end` is rotate, stop or open; `next` is the following file's name (from the
    rotate event, or the next number after a stop or a crash). Raises BinlogError on a file that
    is not a binlog or is encrypted (its events cannot be walked).
    """
    name = name or path.rsplit("/", 1)[-1]
    with open(path, "rb") as handle:
        data = handle.read()
    meta = _parse_first_event(data, path)
    checksum = CHECKSUM_SIZE if meta.pop("checksum") != CHECKSUM_NONE else 0
    position, events, last, end, following = 4, 0, meta["started_at"], "open", None
    while position + HEADER_SIZE <= len(data):
        timestamp, kind, _, size, _, _ = HEADER.unpack_from(data, position)
        if size < HEADER_SIZE or position + size > len(data):
            break  # a torn last event: the server stopped in the middle of writing it
        if kind == START_ENCRYPTION_EVENT:
            raise BinlogError(f"{path}: encrypted binary logs cannot be archived by stackguard")
        events += 1
        last = max(last, timestamp)
        if kind == ROTATE_EVENT:
            body = data[position + HEADER_SIZE:position + size - checksum]
            end, following = "rotate", body[8:].decode("ascii", "replace")
        elif kind == STOP_EVENT:
            end = "stop"
        position += size
    if end != "rotate":
        following = next_name(name)
    return {"name": name, "size": len(data), "started_at": meta["started_at"],
            "last_event_at": last, "server_id": meta["server_id"],
            "server_version": meta["server_version"], "events": events, "end": end,
            "next": following, "end_position": position, "in_use": meta["in_use"]}


def has_activity(path):
    """Whether the file holds any event besides its start-of-file housekeeping (a transaction,
    DDL, a rotate...). The archive flushes only a current file that does: an idle server's binlog
    is not rotated every few minutes for nothing."""
    with open(path, "rb") as handle:
        if handle.read(4) != MAGIC:
            raise BinlogError(f"{path}: not a MariaDB binary log (no \\xfebin magic)")
        while True:
            header = handle.read(HEADER_SIZE)
            if len(header) < HEADER_SIZE:
                return False
            _, kind, _, size, _, _ = HEADER.unpack(header)
            if kind not in HOUSEKEEPING:
                return True
            if size < HEADER_SIZE:
                return False
            handle.seek(size - HEADER_SIZE, 1)
