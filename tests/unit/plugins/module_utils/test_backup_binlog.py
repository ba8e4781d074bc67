"""backup_binlog: binlog headers read from files built byte by byte as the server writes them.

Real files written by a real server are read in test_backup_jobs.py; here each ending (rotate,
stop, a crash, a torn event), checksums on and off, and every malformed input.
"""
import struct
import zlib

import pytest

from ansible.module_utils.backup_binlog import (
    BinlogError, has_activity, next_name, read_binlog, read_header, split_name)

FDE, ROTATE, STOP, QUERY, XID, START_ENCRYPTION = 15, 4, 3, 2, 16, 164


class Binlog:
    """Builds a binary log the way MariaDB lays it out: magic, a format description, events."""

    def __init__(self, started, server_id=7, version="10.5.29-MariaDB-0+deb11u1-log", checksum=True,
                 in_use=False):
        self.server_id, self.checksum = server_id, checksum
        self.data = bytearray(b"\xfebin")
        body = (struct.pack("<H", 4) + version.encode().ljust(50, b"\0") + struct.pack("<I", 0) + bytes([19])
                + bytes(40) + bytes([1 if checksum else 0]))
        self.event(started, FDE, body, flags=1 if in_use else 0, force_checksum=True)

    def event(self, timestamp, kind, body=b"\0" * 20, flags=0, force_checksum=False):
        trailer = 4 if (self.checksum or force_checksum) else 0
        size = 19 + len(body) + trailer
        header = struct.pack("<IBIIIH", timestamp, kind, self.server_id, size, len(self.data) + size, flags)
        self.data += header + body
        if trailer:
            self.data += struct.pack("<I", zlib.crc32(header + body))
        return self

    def rotate(self, timestamp, name):
        return self.event(timestamp, ROTATE, struct.pack("<Q", 4) + name.encode())

    def write(self, path):
        path.write_bytes(bytes(self.data))
        return str(path)


def test_a_rotated_file_names_its_successor(tmp_path):
    path = (Binlog(1000).event(1001, QUERY).event(1005, XID).rotate(1007, "mariadb-bin.000013")
            .write(tmp_path / "mariadb-bin.000012"))
    meta = read_binlog(path)
    assert meta == {"name": "mariadb-bin.000012", "size": (tmp_path / "mariadb-bin.000012").stat().st_size,
                    "started_at": 1000, "last_event_at": 1007, "server_id": 7,
                    "server_version": "10.5.29-MariaDB-0+deb11u1-log", "events": 4, "end": "rotate",
                    "next": "mariadb-bin.000013", "end_position": meta["size"], "in_use": False}


def test_the_rotate_event_name_is_read_without_its_checksum(tmp_path):
    path = Binlog(1000, checksum=True).rotate(1001, "x.000002").write(tmp_path / "x.000001")
    assert read_binlog(path)["next"] == "x.000002"


def test_files_without_checksums_are_read_too(tmp_path):
    path = Binlog(1000, checksum=False).event(1003, QUERY).rotate(1004, "x.000002").write(tmp_path / "x.000001")
    meta = read_binlog(path)
    assert (meta["next"], meta["events"], meta["last_event_at"]) == ("x.000002", 3, 1004)


def test_a_clean_shutdown_continues_with_the_next_number(tmp_path):
    path = Binlog(1000).event(1002, QUERY).event(1009, STOP).write(tmp_path / "mariadb-bin.000099")
    meta = read_binlog(path)
    assert (meta["end"], meta["next"], meta["last_event_at"]) == ("stop", "mariadb-bin.000100", 1009)


def test_a_crash_leaves_an_open_file_whose_successor_is_the_next_number(tmp_path):
    path = Binlog(1000, in_use=True).event(1002, QUERY).write(tmp_path / "mariadb-bin.000007")
    meta = read_binlog(path)
    assert (meta["end"], meta["next"], meta["in_use"]) == ("open", "mariadb-bin.000008", True)


def test_a_torn_last_event_is_not_counted(tmp_path):
    log = Binlog(1000).event(1002, QUERY)
    whole = len(log.data)
    log.event(1999, QUERY, b"\0" * 100)
    path = tmp_path / "mariadb-bin.000001"
    path.write_bytes(bytes(log.data[:-30]))
    meta = read_binlog(str(path))
    assert (meta["events"], meta["last_event_at"], meta["end_position"], meta["end"]) == (2, 1002, whole, "open")


def test_the_newest_event_time_is_the_highest_not_the_last(tmp_path):
    path = Binlog(1000).event(1010, QUERY).event(1008, XID).write(tmp_path / "b.000001")
    assert read_binlog(path)["last_event_at"] == 1010


def test_read_header_reads_only_the_format_description(tmp_path):
    log = Binlog(4242, server_id=9, version="10.11.18-MariaDB-log").event(5000, QUERY)
    path = log.write(tmp_path / "b.000001")
    assert read_header(path) == {"started_at": 4242, "server_id": 9, "server_version": "10.11.18-MariaDB-log",
                                 "in_use": False, "checksum": 1}


@pytest.mark.parametrize("content, message", [
    (b"", "not a MariaDB binary log"),
    (b"GIF89a" + b"\0" * 100, "not a MariaDB binary log"),
    (b"\xfebin" + b"\0" * 5, "too short"),
    (b"\xfebin" + struct.pack("<IBIIIH", 1, QUERY, 1, 40, 44, 0) + b"\0" * 21, "not a format description"),
])
def test_what_is_not_a_binlog_is_refused_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.000001"
    path.write_bytes(content)
    with pytest.raises(BinlogError, match=message) as error:
        read_binlog(str(path))
    assert str(path) in str(error.value)


def test_an_encrypted_binlog_is_refused(tmp_path):
    path = Binlog(1000).event(1000, START_ENCRYPTION).event(1001, QUERY).write(tmp_path / "b.000001")
    with pytest.raises(BinlogError, match="encrypted"):
        read_binlog(path)


@pytest.mark.parametrize("name, expected", [
    ("mariadb-bin.000012", ("mariadb-bin", 12)),
    ("mysql-bin.1234567", ("mysql-bin", 1234567)),
    ("a.b.c.000001", ("a.b.c", 1)),
])
def test_split_name(name, expected):
    assert split_name(name) == expected


@pytest.mark.parametrize("name", ["", "mariadb-bin", "mariadb-bin.12", "../etc.000001", "/abs.000001",
                                  "mariadb-bin.000012.json", "-x.000001"])
def test_split_name_refuses_what_is_not_a_binlog_name(name):
    with pytest.raises(BinlogError, match="is not a binary log name"):
        split_name(name)


@pytest.mark.parametrize("name, expected", [
    ("mariadb-bin.000012", "mariadb-bin.000013"),
    ("mariadb-bin.999999", "mariadb-bin.1000000"),
    ("m.000009", "m.000010"),
])
def test_next_name_keeps_the_width(name, expected):
    assert next_name(name) == expected


def test_a_file_with_only_its_housekeeping_has_no_activity(tmp_path):
    idle = Binlog(1000).event(1000, 163).event(1001, 161).event(1002, 161).write(tmp_path / "b.000001")
    assert has_activity(idle) is False
    busy = Binlog(1000).event(1000, 163).event(1001, 162).event(1001, QUERY).write(tmp_path / "b.000002")
    assert has_activity(busy) is True
    rotated = Binlog(1000).rotate(1001, "b.000004").write(tmp_path / "b.000003")
    assert has_activity(rotated) is True


def test_has_activity_refuses_what_is_not_a_binlog(tmp_path):
    path = tmp_path / "x.000001"
    path.write_bytes(b"nope")
    with pytest.raises(BinlogError, match="not a MariaDB binary log"):
        has_activity(str(path))
