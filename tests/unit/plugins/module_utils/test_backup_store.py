"""backup_store: the store on real directories, its command line as sshd runs it, and the client.

The client talks to the real store program (stackguard-backup-store's code) in a subprocess, once
directly and once through a stand-in for ssh that does what sshd does with a forced command (the
client's words arrive in SSH_ORIGINAL_COMMAND, the source comes from the key's options), so the
quoting on both sides is the real one. The real ssh and sshd run in the Molecule scenario.
"""
import hashlib
import io
import json
import os
import stat
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from ansible.module_utils.backup_catalog import parse_time
from ansible.module_utils.backup_jobs import store_main
from ansible.module_utils.backup_store import Store, StoreClient, StoreError, serve, sha256_file

MODULE_UTILS = Path(__file__).resolve().parents[4] / "plugins" / "module_utils"


def binlog_bytes(started, next_name="mariadb-bin.000002", last=None):
    data = bytearray(b"\xfebin")

    def event(timestamp, kind, body):
        size = 19 + len(body) + 4
        header = struct.pack("<IBIIIH", timestamp, kind, 7, size, len(data) + size, 0)
        data.extend(header + body + struct.pack("<I", zlib.crc32(header + body)))

    event(started, 15, struct.pack("<H", 4) + b"10.5.29-MariaDB-log".ljust(50, b"\0") + bytes(4) + bytes([19])
          + bytes(40) + bytes([1]))
    event(last or started + 5, 2, b"\0" * 30)
    event(last or started + 5, 4, struct.pack("<Q", 4) + next_name.encode())
    return bytes(data)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def put_base(store, backup_id="20261130T235900Z-daily", dump=b"-- dump\n", consistent="2026-11-30T23:59:01Z"):
    store.put_base(backup_id, "dump.sql.gz", sha(dump), len(dump), io.BytesIO(dump))
    manifest = json.dumps({
        "format": 1, "id": backup_id, "kind": backup_id.split("-", 1)[1], "database": "stackguard",
        "consistent_at": consistent, "binlog": {"file": "mariadb-bin.000002", "position": 389},
        "server_version": "10.5.29-MariaDB-log",
        "dump": {"file": "dump.sql.gz", "sha256": sha(dump), "size": len(dump)}}).encode()
    return store.put_base(backup_id, "manifest.json", sha(manifest), len(manifest), io.BytesIO(manifest))


@pytest.fixture
def store(tmp_path):
    return Store(str(tmp_path / "store"), "db1")


def tree(root):
    """{relative path: (type, mode)} under root."""
    out = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            out[os.path.relpath(path, root)] = ("d" if name in dirs else "f", stat.S_IMODE(os.stat(path).st_mode))
    return out


# --- receiving ------------------------------------------------------------------------------------

def test_a_base_backup_is_stored_private_and_listed_good(store, tmp_path):
    assert put_base(store) == {"stored": True, "id": "20261130T235900Z-daily", "file": "manifest.json"}
    assert tree(tmp_path / "store") == {
        "db1": ("d", 0o700), "db1/base": ("d", 0o700), "db1/base/20261130T235900Z-daily": ("d", 0o700),
        "db1/base/20261130T235900Z-daily/dump.sql.gz": ("f", 0o600),
        "db1/base/20261130T235900Z-daily/manifest.json": ("f", 0o600)}
    listing = store.list()
    assert [(b["id"], b["manifest"]["kind"], b["problems"]) for b in listing["bases"]] == [
        ("20261130T235900Z-daily", "daily", [])]


@pytest.mark.parametrize("announced_sha, announced_size, message", [
    (sha(b"other"), 5, "announced 5 bytes with sha256"),
    (sha(b"hello"), 4, "received 5 bytes"),
])
def test_a_damaged_transfer_is_refused_and_leaves_nothing(store, tmp_path, announced_sha, announced_size, message):
    with pytest.raises(StoreError, match=message):
        store.put_base("20261130T235900Z-daily", "dump.sql.gz", announced_sha, announced_size, io.BytesIO(b"hello"))
    assert os.listdir(tmp_path / "store" / "db1" / "base" / "20261130T235900Z-daily") == []


def test_a_manifest_before_its_dump_is_refused(store):
    manifest = json.dumps({"format": 1, "id": "20261130T235900Z-daily", "kind": "daily", "database": "x",
                           "consistent_at": "2026-11-30T23:59:01Z", "binlog": {"file": "b.000001", "position": 4},
                           "server_version": "10.5.29", "dump": {"file": "dump.sql.gz", "sha256": "a" * 64,
                                                                "size": 1}}).encode()
    with pytest.raises(StoreError, match="names dump.sql.gz, which was not received: send the dump first"):
        store.put_base("20261130T235900Z-daily", "manifest.json", sha(manifest), len(manifest), io.BytesIO(manifest))


def test_a_manifest_whose_sha256_does_not_match_the_dump_is_refused(store):
    dump = b"dump"
    store.put_base("20261130T235900Z-daily", "dump.sql.gz", sha(dump), 4, io.BytesIO(dump))
    manifest = json.dumps({"format": 1, "id": "20261130T235900Z-daily", "kind": "daily", "database": "x",
                           "consistent_at": "2026-11-30T23:59:01Z", "binlog": {"file": "b.000001", "position": 4},
                           "server_version": "10.5.29", "dump": {"file": "dump.sql.gz", "sha256": "a" * 64,
                                                                "size": 4}}).encode()
    with pytest.raises(StoreError, match="does not match the manifest's sha256"):
        store.put_base("20261130T235900Z-daily", "manifest.json", sha(manifest), len(manifest), io.BytesIO(manifest))


@pytest.mark.parametrize("manifest, message", [
    (b"{not json", "is not JSON"),
    (json.dumps({"format": 1}).encode(), "manifest field 'id' is missing"),
])
def test_a_broken_manifest_is_refused(store, manifest, message):
    with pytest.raises(StoreError, match=message):
        store.put_base("20261130T235900Z-daily", "manifest.json", sha(manifest), len(manifest), io.BytesIO(manifest))


def test_the_same_file_again_is_accepted_other_content_is_refused(store):
    store.put_base("20261130T235900Z-daily", "dump.sql.gz", sha(b"a"), 1, io.BytesIO(b"a"))
    again = store.put_base("20261130T235900Z-daily", "dump.sql.gz", sha(b"a"), 1, io.BytesIO(b"a"))
    assert again["stored"] is False
    with pytest.raises(StoreError, match="exists with other content; a stored backup is never overwritten"):
        store.put_base("20261130T235900Z-daily", "dump.sql.gz", sha(b"b"), 1, io.BytesIO(b"b"))


@pytest.mark.parametrize("backup_id, name", [
    ("../escape", "dump.sql.gz"), ("20261130T235900Z-daily", "../../x"), ("20261130T235900Z-daily", ".."),
    ("20261130T235900Z-weird", "dump.sql.gz"),
])
def test_paths_outside_the_store_are_refused(store, backup_id, name):
    with pytest.raises(ValueError):
        store.put_base(backup_id, name, sha(b"a"), 1, io.BytesIO(b"a"))


def test_a_binlog_is_parsed_and_keyed_by_its_start(store, tmp_path):
    started = parse_time("2026-11-30 10:00:00")
    data = binlog_bytes(started)
    record = store.put_binlog("mariadb-bin.000001", sha(data), len(data), io.BytesIO(data))
    assert record["key"] == "20261130T100000Z_mariadb-bin.000001"
    assert (record["stored"], record["end"], record["next"], record["started_at"], record["last_event_at"]) == (
        True, "rotate", "mariadb-bin.000002", "2026-11-30T10:00:00Z", "2026-11-30T10:00:05Z")
    files = tree(tmp_path / "store" / "db1" / "binlogs")
    assert files == {"20261130T100000Z_mariadb-bin.000001": ("f", 0o600),
                     "20261130T100000Z_mariadb-bin.000001.json": ("f", 0o600)}
    assert [b["key"] for b in store.list()["binlogs"]] == ["20261130T100000Z_mariadb-bin.000001"]


def test_a_reused_binlog_name_from_a_new_server_is_stored_beside_the_old_one(store):
    for started in ("2026-11-30 10:00:00", "2026-12-05 08:00:00"):
        data = binlog_bytes(parse_time(started))
        store.put_binlog("mariadb-bin.000001", sha(data), len(data), io.BytesIO(data))
    assert [b["key"] for b in store.list()["binlogs"]] == [
        "20261130T100000Z_mariadb-bin.000001", "20261205T080000Z_mariadb-bin.000001"]


@pytest.mark.parametrize("name, data, message", [
    ("mariadb-bin.000001", b"not a binlog at all", r"mariadb-bin.000001 refused: mariadb-bin.000001: not a MariaDB binary log"),
    ("../x.000001", binlog_bytes(1000), "is not a binary log name"),
])
def test_what_is_not_a_binlog_is_refused(store, tmp_path, name, data, message):
    with pytest.raises((StoreError, ValueError), match=message):
        store.put_binlog(name, sha(data), len(data), io.BytesIO(data))
    assert not any(n.startswith(".incoming") for n in os.listdir(tmp_path / "store" / "db1" / "binlogs")) \
        if (tmp_path / "store" / "db1" / "binlogs").exists() else True


def test_a_marker_must_carry_its_own_id(store):
    good = json.dumps({"id": "20261130T100000Z-in_place_restore", "at": "2026-11-30T10:00:00Z",
                       "binlog": {"file": "b.000001", "position": 4}}).encode()
    assert store.put_marker("20261130T100000Z-in_place_restore", sha(good), len(good), io.BytesIO(good))["stored"]
    assert [m["id"] for m in store.list()["markers"]] == ["20261130T100000Z-in_place_restore"]
    bad = json.dumps({"id": "other"}).encode()
    with pytest.raises(StoreError, match="its id field must be"):
        store.put_marker("20261130T110000Z-in_place_restore", sha(bad), len(bad), io.BytesIO(bad))


def test_files_are_read_back_and_missing_ones_are_named(store):
    put_base(store)
    with store.open_base("20261130T235900Z-daily", "dump.sql.gz") as handle:
        assert handle.read() == b"-- dump\n"
    with pytest.raises(StoreError, match="is not in the store"):
        store.open_base("20261129T235900Z-daily", "dump.sql.gz")
    with pytest.raises(ValueError):
        store.open_binlog("../../etc/passwd")


def test_an_incomplete_base_is_listed_with_its_problem(store):
    store.put_base("20261130T120000Z-manual", "dump.sql.gz", sha(b"x"), 1, io.BytesIO(b"x"))
    assert store.list()["bases"][0]["problems"] == [
        "no manifest.json (incomplete: the backup failed or is still arriving)"]


# --- retention on disk ----------------------------------------------------------------------------

def test_prune_deletes_what_retention_selects_and_stale_uploads(store, tmp_path):
    for day in range(20, 31):
        put_base(store, f"202611{day}T235900Z-daily", dump=f"dump {day}".encode(),
                 consistent=f"2026-11-{day}T23:59:01Z")
    for day in range(19, 31):
        data = binlog_bytes(parse_time(f"2026-11-{day} 23:59:01"), last=parse_time(f"2026-11-{day} 23:59:30"))
        store.put_binlog(f"mariadb-bin.{day:06d}", sha(data), len(data), io.BytesIO(data))
    base_dir = tmp_path / "store" / "db1" / "base"
    stale = base_dir / "20261130T235900Z-daily" / ".incoming-dead"
    stale.write_bytes(b"x")
    os.utime(stale, (0, 0))
    fresh = base_dir / "20261130T235900Z-daily" / ".incoming-alive"
    fresh.write_bytes(b"x")
    result = store.prune({"daily": 3, "weekly": 0, "monthly": 0}, parse_time("2026-12-01 00:30:00"))
    assert result["delete"] == [f"202611{d}T235900Z-daily" for d in range(20, 28)]
    assert sorted(os.listdir(base_dir)) == ["20261128T235900Z-daily", "20261129T235900Z-daily",
                                            "20261130T235900Z-daily"]
    # The oldest kept backup is consistent at 11-28 23:59:01: the binlog started then is kept.
    assert sorted(os.listdir(tmp_path / "store" / "db1" / "binlogs")) == sorted(
        [f"202611{d}T235901Z_mariadb-bin.{d:06d}" for d in (28, 29, 30)]
        + [f"202611{d}T235901Z_mariadb-bin.{d:06d}.json" for d in (28, 29, 30)])
    assert not stale.exists() and fresh.exists()


def test_prune_dry_run_deletes_nothing(store, tmp_path):
    for day in (28, 29, 30):
        put_base(store, f"202611{day}T235900Z-daily", dump=f"d{day}".encode(), consistent=f"2026-11-{day}T23:59:01Z")
    result = store.prune({"daily": 1, "weekly": 0, "monthly": 0}, parse_time("2026-12-01 00:00:00"), dry_run=True)
    assert len(result["delete"]) == 2
    assert len(os.listdir(tmp_path / "store" / "db1" / "base")) == 3


# --- the command line and the clients -------------------------------------------------------------

def test_serve_refuses_unknown_commands_and_wrong_arguments(store):
    with pytest.raises(StoreError, match="unknown command 'rm -rf /'"):
        serve(["rm", "-rf", "/"], store, {}, 0, io.BytesIO(), io.BytesIO())
    with pytest.raises(StoreError, match="get-binlog takes 1 argument"):
        serve(["get-binlog"], store, {}, 0, io.BytesIO(), io.BytesIO())
    with pytest.raises(StoreError, match="unknown command ''"):
        serve([], store, {}, 0, io.BytesIO(), io.BytesIO())


@pytest.fixture
def store_config(tmp_path):
    path = tmp_path / "store.json"
    path.write_text(json.dumps({"root": str(tmp_path / "store"), "retention": {"daily": 1, "weekly": 0,
                                                                               "monthly": 0}}))
    return str(path)


def run_store(store_config, words=(), environ=None, stdin=b""):
    out, err = io.BytesIO(), io.StringIO()
    old = sys.stderr
    sys.stderr = err
    try:
        rc = store_main(["--config", store_config, "--source", "db1", *words], environ=environ or {},
                        stdin=io.BytesIO(stdin), stdout=out)
    finally:
        sys.stderr = old
    return rc, out.getvalue(), err.getvalue()


def test_the_forced_command_takes_its_words_from_ssh_only(store_config):
    rc, out, _ = run_store(store_config, environ={"SSH_ORIGINAL_COMMAND": "list", "SSH_CONNECTION": "x"})
    assert (rc, json.loads(out)["source"]) == (0, "db1")
    rc, _, err = run_store(store_config, environ={"SSH_CONNECTION": "1.2.3.4 5 6.7.8.9 22"})
    assert rc == 1 and "an SSH session without a command" in err
    rc, _, err = run_store(store_config, environ={"SSH_ORIGINAL_COMMAND": "--source db2 list", "SSH_CONNECTION": "x"})
    assert rc == 1 and "unknown command '--source db2 list'" in err


def test_the_store_command_reports_errors_with_exit_1(store_config):
    rc, _, err = run_store(store_config, ["get-base", "20261130T235900Z-daily", "dump.sql.gz"])
    assert rc == 1 and "is not in the store" in err


LAUNCHER = f"""
import sys
import ansible.module_utils
ansible.module_utils.__path__.insert(0, {str(MODULE_UTILS)!r})
from ansible.module_utils.backup_jobs import store_main
sys.exit(store_main())
"""

# What sshd does with `command="... --source db1"` in authorized_keys: the client's command line
# goes to SSH_ORIGINAL_COMMAND and the forced command runs instead.
FAKE_SSH = """#!/bin/sh
for last; do :; done
SSH_ORIGINAL_COMMAND="$last" SSH_CONNECTION="127.0.0.1 1 127.0.0.1 22" exec {python} {launcher} --config {config} --source db1
"""


@pytest.fixture(params=["command", "ssh"])
def client(request, tmp_path, store_config):
    launcher = tmp_path / "store_main.py"
    launcher.write_text(LAUNCHER)
    if request.param == "command":
        return StoreClient({"type": "command", "argv": [sys.executable, str(launcher), "--config", store_config,
                                                        "--source", "db1"]})
    fake = tmp_path / "fake-ssh"
    fake.write_text(FAKE_SSH.format(python=sys.executable, launcher=launcher, config=store_config))
    fake.chmod(0o755)
    return StoreClient({"type": "ssh", "ssh": str(fake), "host": "backup1", "port": 22, "user": "stackguard-backup",
                        "identity": "/nonexistent/key", "known_hosts": "/nonexistent/known_hosts"})


def test_the_client_ships_lists_fetches_and_prunes(client, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    dump = work / "dump.sql.gz"
    dump.write_bytes(b"the dump, with a space and 'quotes'")
    manifest = work / "manifest.json"
    manifest.write_text(json.dumps({
        "format": 1, "id": "20261130T235900Z-daily", "kind": "daily", "database": "stackguard",
        "consistent_at": "2026-11-30T23:59:01Z", "binlog": {"file": "mariadb-bin.000002", "position": 389},
        "server_version": "10.5.29", "dump": {"file": "dump.sql.gz", "sha256": sha256_file(str(dump)),
                                              "size": dump.stat().st_size}}))
    client.put_base("20261130T235900Z-daily", str(dump))
    client.put_base("20261130T235900Z-daily", str(manifest))
    log = work / "mariadb-bin.000002"
    log.write_bytes(binlog_bytes(parse_time("2026-11-30 23:59:01")))
    assert client.put_binlog(str(log), "mariadb-bin.000002")["key"] == "20261130T235901Z_mariadb-bin.000002"
    client.put_marker({"id": "20261130T235959Z-in_place_restore", "at": "2026-11-30T23:59:59Z",
                       "binlog": {"file": "mariadb-bin.000003", "position": 4}}, str(work))
    listing = client.list()
    assert ([b["id"] for b in listing["bases"]], [b["key"] for b in listing["binlogs"]],
            [m["id"] for m in listing["markers"]]) == (
        ["20261130T235900Z-daily"], ["20261130T235901Z_mariadb-bin.000002"], ["20261130T235959Z-in_place_restore"])
    fetched = client.get_base("20261130T235900Z-daily", "dump.sql.gz", str(work / "fetched"))
    assert Path(fetched).read_bytes() == dump.read_bytes()
    client.get_binlog("20261130T235901Z_mariadb-bin.000002", str(work / "log"))
    assert (work / "log").read_bytes() == log.read_bytes()
    assert client.prune()["keep"] == ["20261130T235900Z-daily"]
    assert sorted(os.listdir(work)) == ["dump.sql.gz", "fetched", "log", "manifest.json", "mariadb-bin.000002"]


def test_the_client_surfaces_the_stores_refusal(client, tmp_path):
    with pytest.raises(StoreError, match=r"get-base failed \(exit 1\): stackguard-backup-store: .* is not in the store"):
        client.get_base("20261130T235900Z-daily", "dump.sql.gz", str(tmp_path / "nothing"))
    assert not (tmp_path / "nothing").exists()
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".incoming")]


def test_the_ssh_client_talks_to_the_named_host_strictly():
    seen = []

    def run(argv, **_):
        seen.append(argv)
        return subprocess.CompletedProcess(argv, 0, b'{"bases": []}', b"")

    client = StoreClient({"type": "ssh", "host": "172.29.80.41", "port": 2222, "user": "stackguard-backup",
                          "identity": "/etc/stackguard/backup-ssh/id_ed25519",
                          "known_hosts": "/etc/stackguard/backup-ssh/known_hosts"}, run=run)
    client.list()
    argv = seen[0]
    assert argv[:5] == ["ssh", "-p", "2222", "-i", "/etc/stackguard/backup-ssh/id_ed25519"]
    for option in ("BatchMode=yes", "StrictHostKeyChecking=yes", "IdentitiesOnly=yes",
                   "UserKnownHostsFile=/etc/stackguard/backup-ssh/known_hosts"):
        assert option in argv
    assert argv[-3:] == ["stackguard-backup@172.29.80.41", "--", "list"]


def test_an_unknown_store_type_is_refused():
    with pytest.raises(StoreError, match="store type 'ftp' is not ssh or command"):
        StoreClient({"type": "ftp"})
