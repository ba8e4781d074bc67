"""backup_jobs end to end against a real, throwaway MariaDB server with its binary log on.

This machine's mariadbd runs on a private datadir and socket (no network), with the app's schema;
the store is the real store program in a subprocess (the SSH transport itself runs in the
Molecule scenario); restores land in a real scratch mariadbd. Tests run in file order on one
server: base backup, rows, a destructive event, restores to a time and to a binlog position,
refusals, the restore test, an in-place restore, failures. Without the MariaDB binaries or
without root (socket authentication as root), they are skipped.
"""
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ansible.module_utils.backup_binlog import read_binlog
from ansible.module_utils.backup_catalog import human, parse_time
from ansible.module_utils.backup_jobs import JobFailed, Jobs, compare_stats, load_config, main
from ansible.module_utils.backup_plan import RestoreRefused

REPO = Path(__file__).resolve().parents[4]
MODULE_UTILS = REPO / "plugins" / "module_utils"
SEARCH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
LAUNCHER = f"""
import sys
import ansible.module_utils
ansible.module_utils.__path__.insert(0, {str(MODULE_UTILS)!r})
from ansible.module_utils.backup_jobs import store_main
sys.exit(store_main())
"""
NOTIFIER = """#!/bin/sh
printf '%s\\n' "$@" > "$(dirname "$0")/notified.$$"
"""


def which(*names):
    return next(filter(None, (shutil.which(n, path=SEARCH) for n in names)), None)


class Env:
    def __init__(self, base):
        self.base = base
        self.socket = str(base / "mysqld.sock")
        self.client = which("mariadb", "mysql")
        self.config_path = str(base / "backup.json")
        self.store_root = base / "store"

    def sql(self, statement, database="stackguard", socket=None):
        argv = [self.client, "--no-defaults", f"--socket={socket or self.socket}", "-N", "-B",
                "--default-character-set=utf8mb4"] + ([database] if database else [])
        proc = subprocess.run(argv, input=statement, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def jobs(self):
        return Jobs(load_config(self.config_path), log=lambda message: None)

    def notifications(self):
        return [Path(p).read_text().splitlines() for p in sorted(self.base.glob("notified.*"))]

    def rows(self, socket=None):
        """Every row of the app tables, every column as hex: equal means equal byte for byte."""
        out = {}
        for table in ("users", "messages"):
            columns = self.sql(f"SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                               f"'stackguard' AND TABLE_NAME = '{table}' ORDER BY ORDINAL_POSITION", socket=socket).split()
            expression = ", '|', ".join(f"IFNULL(HEX(`{c}`), 'NULL')" for c in columns)
            out[table] = self.sql(f"SELECT CONCAT({expression}) FROM `{table}` ORDER BY id", socket=socket).splitlines()
        return out


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    server, install = which("mariadbd", "mysqld"), which("mariadb-install-db", "mysql_install_db")
    if not (server and install and which("mariadb", "mysql") and which("mariadb-dump", "mysqldump")
            and which("mariadb-binlog", "mysqlbinlog")):
        pytest.skip("needs the MariaDB server and client programs on this machine")
    if os.geteuid() != 0:
        pytest.skip("the jobs log in as root over the socket (unix_socket auth), which needs root")
    base = tmp_path_factory.mktemp("backup")
    env = Env(base)
    datadir = base / "data"
    done = subprocess.run([install, "--no-defaults", f"--datadir={datadir}", "--auth-root-authentication-method=socket",
                           "--user=root", "--skip-test-db"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    (base / "binlog").mkdir()
    log = base / "error.log"
    proc = subprocess.Popen(
        [server, "--no-defaults", f"--datadir={datadir}", f"--socket={env.socket}", "--skip-networking", "--user=root",
         f"--pid-file={base / 'mysqld.pid'}", f"--log-error={log}", "--innodb-buffer-pool-size=32M", "--server-id=31",
         f"--log-bin={base / 'binlog' / 'mariadb-bin'}", "--binlog-format=ROW", "--sync-binlog=1",
         "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run([env.client, "--no-defaults", f"--socket={env.socket}", "-e", "SELECT 1"],
                             capture_output=True).returncode != 0:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        env.sql("CREATE DATABASE stackguard CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci", database=None)
        for migration in sorted((REPO / "app" / "migrations").glob("*.sql")):
            env.sql(migration.read_text())
        launcher = base / "store_main.py"
        launcher.write_text(LAUNCHER)
        (base / "store.json").write_text(json.dumps({"root": str(env.store_root), "retention": {}}))
        notifier = base / "stackguard-notify"
        notifier.write_text(NOTIFIER)
        notifier.chmod(0o755)
        config = {
            "source": "db1", "environment": "test", "stack": "php74-apache24@1", "database": "stackguard",
            "socket": env.socket, "work_dir": str(base / "work"), "status_file": str(base / "status.json"),
            "metrics_file": str(base / "metrics" / "stackguard_backup.prom"), "lock_file": str(base / "lock"),
            "lock_timeout": 60, "notify": str(notifier),
            "scratch": {"dir": str(base / "scratch"), "user": "root", "buffer_pool": "32M"},
            "store": {"type": "command", "argv": [sys.executable, str(launcher), "--config", str(base / "store.json"),
                                                  "--source", "db1"]},
        }
        Path(env.config_path).write_text(json.dumps(config))
        env.binlog_dir = base / "binlog"
        yield env
    finally:
        for scratch in ("scratch", "scratch-test"):
            scratch_pid = base / scratch / "mysqld.pid"
            if scratch_pid.exists():
                subprocess.run(["kill", scratch_pid.read_text().strip()], check=False)
        proc.terminate()
        proc.wait(timeout=60)


def add_accounts(env, prefix, count):
    env.sql("".join(f"INSERT INTO users (username, password_hash) VALUES ('{prefix}-{n}', 'hash-{prefix}-{n}-é');"
                    for n in range(count)))
    env.sql(f"INSERT INTO messages (sender_id, recipient_id, body) SELECT u.id, u.id, CONCAT('hello ✓ from ', u.username) "
            f"FROM users u WHERE u.username LIKE '{prefix}-%'")


def next_second():
    """A UTC time string strictly after everything written so far."""
    time.sleep(1.05 - (time.time() % 1))
    return human(int(time.time()))


# --- base backup ----------------------------------------------------------------------------------

def test_a_base_backup_is_compressed_checksummed_described_and_shipped(env):
    add_accounts(env, "before-base", 3)
    details = env.jobs().base("daily")
    backup_dir = env.store_root / "db1" / "base" / details["id"]
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert manifest["kind"] == "daily" and manifest["database"] == "stackguard"
    assert manifest["tool"] == "mariadb-dump --single-transaction --master-data=2 --flush-logs"
    assert manifest["server_version"].startswith(env.sql("SELECT VERSION()", database=None).strip()[:5])
    dump = (backup_dir / "dump.sql.gz").read_bytes()
    assert manifest["dump"]["size"] == len(dump)
    assert manifest["dump"]["sha256"] == __import__("hashlib").sha256(dump).hexdigest()
    sql = gzip.decompress(dump).decode()
    assert len(sql.encode()) == manifest["dump"]["uncompressed_size"]
    assert (f"CHANGE MASTER TO MASTER_LOG_FILE='{manifest['binlog']['file']}', "
            f"MASTER_LOG_POS={manifest['binlog']['position']}") in sql
    assert "before-base-2" in sql and "-- Dump completed" in sql
    # The base starts where --flush-logs opened a new binlog; the snapshot is that file's start.
    header = read_binlog(str(env.binlog_dir / manifest["binlog"]["file"]))
    assert manifest["consistent_at"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(header["started_at"]))
    status = json.loads((env.base / "status.json").read_text())
    assert status["runs"]["daily"]["last_status"] == "ok"
    assert status["runs"]["daily"]["size_bytes"] == len(dump)
    metrics = (env.base / "metrics" / "stackguard_backup.prom").read_text()
    assert f'stackguard_backup_last_size_bytes{{kind="daily"}} {len(dump)}' in metrics
    assert details["archive"]["shipped"], "the binlogs closed by the backup are archived with it"


def test_archived_binlogs_are_the_servers_files_byte_for_byte(env):
    env.jobs().binlogs(force_flush=True)
    for sidecar in (env.store_root / "db1" / "binlogs").glob("*.json"):
        meta = json.loads(sidecar.read_text())
        assert Path(str(sidecar)[:-5]).read_bytes() == (env.binlog_dir / meta["name"]).read_bytes()
        assert read_binlog(str(env.binlog_dir / meta["name"]))["next"] == meta["next"]


def test_an_idle_archive_run_neither_flushes_nor_ships(env):
    jobs = env.jobs()
    jobs.binlogs()
    before = sorted(os.listdir(env.binlog_dir))
    details = jobs.binlogs()
    assert (details["flushed"], details["shipped"]) == (False, [])
    assert sorted(os.listdir(env.binlog_dir)) == before


# --- point-in-time restores -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def story(env):
    """Rows before and after a base backup, a destructive event, rows after it; archived."""
    jobs = env.jobs()
    jobs.base("manual")
    base_max = int(env.sql("SELECT MAX(id) FROM users"))
    add_accounts(env, "after-base", 4)
    before = env.rows()
    point = next_second()
    position = env.sql("SHOW MASTER STATUS", database=None).split()[:2]
    env.sql("DELETE FROM messages; DELETE FROM users;")
    add_accounts(env, "after-event", 2)
    jobs.binlogs()
    return {"before": before, "point": point, "position": f"{position[0]}:{position[1]}", "base_max": base_max}


def test_a_restore_to_a_time_brings_back_every_row_before_it_and_none_after(env, story):
    result = env.jobs().restore(story["point"])
    assert result["scratch_socket"] == str(env.base / "scratch" / "mysqld.sock")
    restored = env.rows(socket=result["scratch_socket"])
    assert restored == story["before"]
    assert any(int(row.split("|")[0], 16) > story["base_max"] for row in restored["users"]), \
        "rows created after the base backup come back from the binlogs"
    assert "after-event" not in env.sql("SELECT GROUP_CONCAT(username) FROM users", socket=result["scratch_socket"])
    assert result["tables"]["users"]["rows"] == len(story["before"]["users"])
    assert env.sql("SELECT COUNT(*) FROM users").strip() == "2", "production is not touched"


def test_a_restore_to_a_binlog_position_stops_right_before_that_event(env, story):
    result = env.jobs().restore(story["position"])
    assert result["plan"]["stop"] == {"position": int(story["position"].split(":")[1])}
    assert env.rows(socket=result["scratch_socket"]) == story["before"]


def test_latest_restores_everything_archived(env, story):
    result = env.jobs().restore("latest")
    assert env.rows(socket=result["scratch_socket"]) == env.rows()


def test_a_point_before_the_oldest_backup_is_refused_and_nothing_changes(env, story):
    scratch = env.rows(socket=str(env.base / "scratch" / "mysqld.sock"))
    with pytest.raises(RestoreRefused, match="is before the oldest base backup"):
        env.jobs().restore("2001-01-01 00:00:00")
    assert env.rows(socket=str(env.base / "scratch" / "mysqld.sock")) == scratch


def test_a_damaged_dump_is_refused_before_anything_changes(env, story):
    scratch = env.rows(socket=str(env.base / "scratch" / "mysqld.sock"))
    plan = env.jobs().plan(story["point"])
    dump = env.store_root / "db1" / "base" / plan["base"]["id"] / "dump.sql.gz"
    original = dump.read_bytes()
    try:
        dump.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        with pytest.raises(RestoreRefused, match=f"checksum mismatch: base backup {plan['base']['id']}/dump.sql.gz"):
            env.jobs().restore(story["point"])
    finally:
        dump.write_bytes(original)
    assert env.rows(socket=str(env.base / "scratch" / "mysqld.sock")) == scratch
    assert not (env.base / "work" / "restore").exists()


def test_a_binlog_lost_from_the_archive_is_a_gap_that_is_refused(env, story):
    plan = env.jobs().plan(story["point"])
    archived = env.store_root / "db1" / "binlogs" / plan["binlogs"][-1]["key"]
    aside = archived.with_name("aside")
    archived.rename(aside)
    try:
        # archive_first=False: the server still has the file, and archiving would ship it again.
        with pytest.raises(RestoreRefused, match=f"gap in the binlog chain: {plan['binlogs'][-1]['name']}"):
            env.jobs().restore(story["point"], archive_first=False)
    finally:
        aside.rename(archived)


def test_a_backup_from_another_major_version_is_refused(env, story):
    plan = env.jobs().plan(story["point"])
    path = env.store_root / "db1" / "base" / plan["base"]["id"] / "manifest.json"
    original = path.read_text()
    try:
        path.write_text(original.replace(json.loads(original)["server_version"], "9.4.1-MariaDB"))
        with pytest.raises(RestoreRefused, match="was taken on MariaDB 9.4.1-MariaDB .major 9.4.; this server runs"):
            env.jobs().restore(story["point"])
    finally:
        path.write_text(original)


# --- the restore test -----------------------------------------------------------------------------

def test_the_restore_test_matches_the_live_database_at_one_point(env, story):
    add_accounts(env, "verify", 3)
    details = env.jobs().verify()
    assert details["differences"] == []
    assert details["live"] == details["restored"]
    assert details["live"]["users"]["rows"] == 5
    assert not os.path.exists(env.base / "scratch-test" / "data"), "the restore test's copy is removed"
    assert env.rows(socket=str(env.base / "scratch" / "mysqld.sock")), \
        "the scratch instance of the last restore is left alone for whoever is inspecting it"
    status = json.loads((env.base / "status.json").read_text())
    assert status["runs"]["verify"]["last_status"] == "ok"


def test_the_restore_test_fails_and_alerts_when_a_change_never_reached_the_binlog(env, story):
    env.sql("SET SESSION sql_log_bin = 0; INSERT INTO users (username, password_hash) VALUES ('ghost', 'x');")
    notified = len(env.notifications())
    try:
        with pytest.raises(JobFailed, match=r"differs from the live database at .*users.rows: live 6, restored 5"):
            env.jobs().verify()
    finally:
        env.sql("SET SESSION sql_log_bin = 0; DELETE FROM users WHERE username = 'ghost';")
    alert = env.notifications()[notified]
    assert alert[:6] == ["--kind", "backup_failed", "--status", "failed", "--summary",
                         alert[5]] and alert[5].startswith("the restore test failed on db1")
    metrics = (env.base / "metrics" / "stackguard_backup.prom").read_text()
    assert 'stackguard_backup_last_run_success{kind="verify"} 0' in metrics


def test_compare_stats_names_each_difference():
    assert compare_stats({"a": {"rows": 1, "max_id": 1}, "b": {"rows": 0, "max_id": 0}},
                         {"a": {"rows": 2, "max_id": 1}, "c": {"rows": 0, "max_id": None}}) == [
        "a.rows: live 1, restored 2", "table b is missing from the restored copy",
        "table c exists only in the restored copy"]


# --- in place -------------------------------------------------------------------------------------

def test_an_in_place_restore_takes_a_safety_backup_and_replaces_production(env, story):
    live_before = env.rows()
    result = env.jobs().restore(story["point"], in_place=True)
    assert env.rows() == story["before"]
    listing = env.jobs().list()
    ids = [b["id"] for b in listing["bases"]]
    assert result["safety_backup"] in ids and result["after_restore_backup"] in ids
    assert listing["markers"] == [result["marker"]]
    assert result["scratch_socket"] is None
    # What the restore replaced is in the safety backup: restored to its own position, into scratch.
    safety = next(b for b in listing["bases"] if b["id"] == result["safety_backup"])
    back = env.jobs().restore(safety["binlog"])
    assert back["plan"]["base"]["id"] == result["safety_backup"]
    assert env.rows(socket=back["scratch_socket"]) == live_before


def test_a_point_inside_the_in_place_restore_is_refused(env, story):
    marker_id = env.jobs().list()["markers"][0]
    marker = json.loads((env.store_root / "db1" / "markers" / f"{marker_id}.json").read_text())
    archived = [json.loads(p.read_text()) for p in (env.store_root / "db1" / "binlogs").glob("*.json")]
    end = max(b["end_position"] for b in archived if b["name"] == marker["binlog"]["file"])
    assert end > marker["binlog"]["position"]
    with pytest.raises(RestoreRefused, match=f"an in-place restore at .* \\({marker_id}\\) lies between base backup"):
        env.jobs().restore(f"{marker['binlog']['file']}:{end}")
    assert env.jobs().restore("latest")["plan"]["base"]["id"].endswith("-after_restore")


# --- failures -------------------------------------------------------------------------------------

def test_a_base_backup_with_the_server_down_fails_records_and_alerts(env, tmp_path):
    config = json.loads(Path(env.config_path).read_text())
    config["socket"] = str(tmp_path / "nothing.sock")
    broken = tmp_path / "backup.json"
    broken.write_text(json.dumps(config))
    before = json.loads((env.base / "status.json").read_text())["runs"]["daily"]["last_success_at"]
    notified = len(env.notifications())
    assert main(["--config", str(broken), "base", "--kind", "daily"]) == 1
    run = json.loads((env.base / "status.json").read_text())["runs"]["daily"]
    assert run["last_status"] == "failed" and "Can't connect" in run["last_error"]
    assert run["last_success_at"] == before
    metrics = (env.base / "metrics" / "stackguard_backup.prom").read_text()
    assert 'stackguard_backup_last_run_success{kind="daily"} 0' in metrics
    assert env.notifications()[notified][:4] == ["--kind", "backup_failed", "--status", "failed"]


def test_the_command_line_exits_2_on_a_refusal_and_0_on_a_plan(env, capsys):
    assert main(["--config", env.config_path, "plan", "--to", "1999-01-01 00:00:00"]) == 2
    assert "refused: restore_to 1999-01-01 00:00:00 UTC is before the oldest base backup" in capsys.readouterr().err
    assert main(["--config", env.config_path, "plan", "--to", "latest"]) == 0
    assert json.loads(capsys.readouterr().out)["point"] == "latest (everything archived)"


def test_a_missing_configuration_says_what_to_run(tmp_path, capsys):
    assert main(["--config", str(tmp_path / "none.json"), "list"]) == 1
    assert "run playbooks/configure-backup.yml" in capsys.readouterr().err


# Last: it breaks the chain on purpose.
def test_a_binlog_purged_before_it_was_archived_fails_the_archive_run_and_alerts(env):
    env.jobs().binlogs(force_flush=True)
    env.sql("INSERT INTO users (username, password_hash) VALUES ('lost', 'x')")
    lost = env.sql("SHOW MASTER STATUS", database=None).split()[0]
    env.sql("FLUSH BINARY LOGS", database=None)
    current = env.sql("SHOW MASTER STATUS", database=None).split()[0]
    deadline = time.monotonic() + 30
    # The server purges a file only once its binlog checkpoint is written, a moment after the flush.
    while lost in env.sql("SHOW BINARY LOGS", database=None):
        assert time.monotonic() < deadline, "the server never purged " + lost
        env.sql(f"PURGE BINARY LOGS TO '{current}'", database=None)
        time.sleep(0.2)
    notified = len(env.notifications())
    with pytest.raises(JobFailed, match=f"{lost} is neither on this server nor in the archive: it was purged "
                                        f"before it was archived"):
        env.jobs().binlogs()
    assert env.notifications()[notified][:4] == ["--kind", "backup_failed", "--status", "failed"]
    run = json.loads((env.base / "status.json").read_text())["runs"]["binlog"]
    assert run["last_status"] == "failed" and "run stackguard-backup base now" in run["last_error"]
    # Once the rows are written again (to the next file), the archive continues past the gap, and
    # the planner says so too.
    env.sql("INSERT INTO users (username, password_hash) VALUES ('after-the-gap', 'x')")
    with pytest.raises(JobFailed, match=f"gap in the binlog chain: {lost}"):
        env.jobs().binlogs()
    env.jobs().base("manual")
    assert env.jobs().binlogs()["restorable_until"]
