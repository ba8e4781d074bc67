"""sql_migrations: ordering and quoting, then the real thing against a throwaway MariaDB server.

The server is this machine's mariadbd, started once per session on a private datadir and socket
(no network), with root authenticated over the socket as on the hosts. The client code runs with
a real AnsibleModule's run_command, and the module runs end to end through `ansible` with the
repo's config. Without the MariaDB binaries (or without root, which socket auth as root needs)
those tests are skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.sql_migrations import (
    TABLE_DDL, MariaDBClient, MigrationError, client_path, pending, sql_quote, validate)
from ansible.module_utils.testing import patch_module_args

REPO = Path(__file__).resolve().parents[4]
BIN = REPO / ".venv" / "bin"
APP_MIGRATIONS = [{"version": int(p.name[:4]), "name": p.name, "sql": p.read_text(encoding="utf-8")}
                  for p in sorted((REPO / "app" / "migrations").glob("*.sql"))]


def m(version, sql="SELECT 1;", name=None):
    return {"version": version, "name": name or f"{version:04d}_m{version}.sql", "sql": sql}


# --- validate / pending ------------------------------------------------------------------------

def test_validate_sorts_by_version():
    migrations = [m(10), m(2), m(3)]
    assert [x["version"] for x in validate(migrations)] == [2, 3, 10]
    assert [x["version"] for x in migrations] == [10, 2, 3]  # the input is left as it was


def test_validate_accepts_nothing():
    assert validate([]) == []


BAD_VERSION = "migration '0001_a.sql': version must be a number >= 1"


@pytest.mark.parametrize("item, message", [
    (m(0), "migration '0000_m0.sql': version must be a number >= 1"),
    (m(-2, name="x.sql"), "migration 'x.sql': version must be a number >= 1"),
    ({"version": "1", "name": "0001_a.sql", "sql": "SELECT 1"}, BAD_VERSION),
    ({"version": True, "name": "0001_a.sql", "sql": "SELECT 1"}, BAD_VERSION),
    ({"version": 1.0, "name": "0001_a.sql", "sql": "SELECT 1"}, BAD_VERSION),
    ({"name": "0001_a.sql", "sql": "SELECT 1"}, BAD_VERSION),
    (m(4, sql=""), "migration 4 (0004_m4.sql) is empty"),
    (m(4, sql="  \n\t"), "migration 4 (0004_m4.sql) is empty"),
    ({"version": 4, "name": "0004_x.sql"}, "migration 4 (0004_x.sql) is empty"),
], ids=["zero", "negative", "string", "bool", "float", "missing", "empty", "blank", "no-sql"])
def test_validate_refuses_a_bad_migration_naming_it(item, message):
    with pytest.raises(MigrationError) as raised:
        validate([m(1), item])
    assert str(raised.value) == message


def test_validate_refuses_a_number_used_twice():
    with pytest.raises(MigrationError, match=r"^migration version 2 appears twice$"):
        validate([m(1), m(2, name="0002_a.sql"), m(2, name="0002_b.sql")])


@pytest.mark.parametrize("applied, expected", [
    ([], [1, 2, 3]),
    ([1], [2, 3]),
    ([1, 2, 3], []),
    ([2], [1, 3]),               # a gap is filled: every unrecorded version runs
    ([1, 2, 3, 4, 99], []),      # versions applied by a newer release are ignored
    ((v for v in [1]), [2, 3]),  # any iterable
])
def test_pending_is_the_unapplied_in_order(applied, expected):
    assert [x["version"] for x in pending([m(3), m(1), m(2)], applied)] == expected


def test_pending_validates_even_what_is_applied():
    with pytest.raises(MigrationError, match="appears twice"):
        pending([m(1), m(1)], [1])


# --- sql_quote ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, quoted", [
    ("plain", "'plain'"),
    ("", "''"),
    ("it's", r"'it\'s'"),
    ("back\\slash", r"'back\\slash'"),
    ("\\'", r"'\\\''"),
    ("a'; DROP TABLE users; --", r"'a\'; DROP TABLE users; --'"),
    ("0001_create_users.sql", "'0001_create_users.sql'"),
    (42, "'42'"),
    ("caf\u00e9\nline", "'caf\u00e9\nline'"),
])
def test_sql_quote(text, quoted):
    assert sql_quote(text) == quoted


# --- client_path -------------------------------------------------------------------------------

@pytest.fixture
def ansible_module():
    """A real AnsibleModule (its run_command and get_bin_path are what the module passes in)."""
    with patch_module_args({}):
        return AnsibleModule(argument_spec={})


def _executable(path):
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def test_client_path_prefers_mariadb_then_mysql(tmp_path, monkeypatch, ansible_module):
    monkeypatch.setenv("PATH", str(tmp_path))
    mysql = _executable(tmp_path / "mysql")
    assert client_path(ansible_module.get_bin_path) == str(mysql)
    mariadb = _executable(tmp_path / "mariadb")
    assert client_path(ansible_module.get_bin_path) == str(mariadb)


def test_client_path_without_any_client(tmp_path, monkeypatch, ansible_module):
    if any(os.access(os.path.join(d, n), os.X_OK)
           for d in ("/sbin", "/usr/sbin", "/usr/local/sbin") for n in ("mariadb", "mysql")):
        pytest.skip("a client lives in an sbin directory, which get_bin_path always searches")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MigrationError, match=r"^neither `mariadb` nor `mysql` client found on this host$"):
        client_path(ansible_module.get_bin_path)


# --- a throwaway MariaDB server ----------------------------------------------------------------

def _which(*names):
    """The first of names on PATH or in the sbin directories (mariadbd lives in /usr/sbin)."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return next(filter(None, (shutil.which(name, path=search) for name in names)), None)


class Server:
    def __init__(self, socket, client):
        self.socket, self.client = str(socket), client

    def sql(self, statement, database=None):
        """Run SQL as root with the plain client (utf8mb4), independent of the code under test."""
        argv = [self.client, "--no-defaults", f"--socket={self.socket}", "--batch", "--skip-column-names",
                "--default-character-set=utf8mb4"]
        if database:
            argv.append(f"--database={database}")
        proc = subprocess.run(argv, input=statement, capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def create_database(self, name):
        self.sql(f"DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}` CHARACTER SET utf8mb4;")
        return name

    def recorded(self, database):
        out = self.sql("SELECT version, name FROM schema_migrations ORDER BY version", database)
        return [(int(v), n) for v, n in (line.split("\t") for line in out.splitlines())]

    def tables(self, database):
        return sorted(self.sql("SHOW TABLES", database).split())


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory):
    server = _which("mariadbd", "mysqld")
    install = _which("mariadb-install-db", "mysql_install_db")
    client = _which("mariadb", "mysql")
    if not (server and install and client):
        pytest.skip("needs a MariaDB server on this machine (mariadbd, mariadb-install-db, mariadb client)")
    if os.geteuid() != 0:
        pytest.skip("the module logs in as root over the socket (unix_socket auth), which needs root")
    base = tmp_path_factory.mktemp("mariadb")
    datadir, socket = base / "data", base / "mysqld.sock"
    done = subprocess.run(
        [install, "--no-defaults", f"--datadir={datadir}", "--auth-root-authentication-method=socket",
         "--user=root", "--skip-test-db"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    log = base / "error.log"
    proc = subprocess.Popen(
        [server, "--no-defaults", f"--datadir={datadir}", f"--socket={socket}", "--skip-networking",
         "--user=root", f"--pid-file={base / 'mysqld.pid'}", f"--log-error={log}",
         "--innodb-buffer-pool-size=32M", "--character-set-server=utf8mb4",
         "--collation-server=utf8mb4_unicode_ci"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ready = Server(socket, client)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mariadbd exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            probe = subprocess.run([client, "--no-defaults", f"--socket={socket}", "-e", "SELECT 1"],
                                   capture_output=True, timeout=30)
            if probe.returncode == 0:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"mariadbd did not accept connections:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield ready
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def client(mariadb, ansible_module, request):
    name = "t" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:16]
    mariadb.create_database(name)
    return MariaDBClient(ansible_module.run_command, client_path(ansible_module.get_bin_path), name,
                         mariadb.socket)


# --- MariaDBClient against the real server ------------------------------------------------------

def test_client_sees_whether_its_database_exists(mariadb, client, ansible_module):
    assert client.database_exists() is True
    absent = MariaDBClient(ansible_module.run_command, client.client, "nosuchdb", mariadb.socket)
    assert absent.database_exists() is False


def test_client_applies_the_app_migrations_and_records_them(mariadb, client):
    assert client.applied_versions() == []
    for migration in pending(APP_MIGRATIONS, client.applied_versions()):
        client.apply(migration)
    assert client.applied_versions() == [x["version"] for x in APP_MIGRATIONS]
    assert mariadb.recorded(client.database) == [(x["version"], x["name"]) for x in APP_MIGRATIONS]
    assert {"users", "messages", "schema_migrations"} <= set(mariadb.tables(client.database))
    assert pending(APP_MIGRATIONS, client.applied_versions()) == []


def test_client_reads_the_servers_version_number(mariadb, client):
    version = client.server_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
    out = subprocess.run(["mariadbd", "--version"], capture_output=True, text=True).stdout
    assert version in out


def test_the_record_table_is_the_documented_one(mariadb, client):
    client.execute(TABLE_DDL)
    columns = mariadb.sql("SELECT column_name, column_type, is_nullable, column_key "
                          "FROM information_schema.columns WHERE table_schema = DATABASE() "
                          "AND table_name = 'schema_migrations' ORDER BY ordinal_position", client.database)
    assert [line.split("\t") for line in columns.splitlines()] == [
        ["version", "int(10) unsigned", "NO", "PRI"],
        ["name", "varchar(255)", "NO", ""],
        ["applied_at", "datetime(6)", "NO", ""],
    ]


@pytest.mark.parametrize("sql", [
    "CREATE TABLE t (id INT)",
    "CREATE TABLE t (id INT);",
    "CREATE TABLE t (id INT);;  \n\n",
    "-- leading comment\nCREATE TABLE t (id INT);\n-- trailing comment\n",
    "CREATE TABLE t (id INT);\nINSERT INTO t VALUES (1), (2);\n",
], ids=["no-semicolon", "semicolon", "extra-semicolons", "comments", "two-statements"])
def test_client_applies_sql_however_it_ends(mariadb, client, sql):
    client.apply(m(1, sql=sql, name="0001_create_t.sql"))
    assert mariadb.recorded(client.database) == [(1, "0001_create_t.sql")]
    assert "t" in mariadb.tables(client.database)


def test_a_failing_migration_raises_the_server_error_and_is_not_recorded(mariadb, client):
    client.apply(m(1, sql="CREATE TABLE t (id INT);"))
    with pytest.raises(MigrationError) as raised:
        client.apply(m(2, sql="ALTER TABLE nosuch ADD COLUMN x INT;"))
    assert "ERROR 1146" in str(raised.value)
    assert "nosuch" in str(raised.value)
    assert client.applied_versions() == [1]


def test_execute_raises_on_a_server_error(client):
    with pytest.raises(MigrationError, match=r"ERROR 1064 .*syntax"):
        client.execute("SELEC 1")


@pytest.mark.parametrize("text", ["plain", "it's", "back\\slash", "\\'", "a'; DROP TABLE users; --",
                                  "tab\there", "two\nlines"])
def test_sql_quote_round_trips_through_the_server(client, text):
    out = client.execute(f"SELECT HEX({sql_quote(text)})", database=False)
    assert bytes.fromhex(out.strip()).decode("utf-8") == text


def test_non_ascii_text_in_a_migration_is_stored_as_written(mariadb, client):
    client.apply(m(1, sql="CREATE TABLE t (s VARCHAR(20)) CHARACTER SET utf8mb4;"))
    client.apply(m(2, sql="INSERT INTO t VALUES ('caf\u00e9');"))
    assert mariadb.sql("SELECT HEX(s) FROM t", client.database).strip() == "caf\u00e9".encode().hex().upper()


def test_database_exists_with_a_similarly_named_database(mariadb, ansible_module):
    mariadb.create_database("sg_app")
    mariadb.create_database("sg-app")
    client = MariaDBClient(ansible_module.run_command, client_path(ansible_module.get_bin_path), "sg_app",
                           mariadb.socket)
    assert client.database_exists() is True


def test_database_exists_is_not_fooled_by_a_wildcard_match(mariadb, ansible_module):
    mariadb.create_database("sgxonly")
    client = MariaDBClient(ansible_module.run_command, client_path(ansible_module.get_bin_path), "sg_only",
                           mariadb.socket)
    assert client.database_exists() is False


def test_applied_versions_with_a_similarly_named_table(mariadb, client):
    mariadb.sql("CREATE TABLE `schema-migrations` (id INT)", client.database)
    assert client.applied_versions() == []


# --- the sql_migrations module end to end, through `ansible` -------------------------------------

RESULT = re.compile(r"^([\w.-]+) \| (SUCCESS|CHANGED|FAILED!) => (\{\n.*?\n\})$", re.M | re.S)
BROKEN = m(2, sql="ALTER TABLE nosuch ADD COLUMN x INT;", name="0002_alter_nosuch.sql")
FIXED = m(2, sql="CREATE TABLE b (id INT);", name="0002_alter_nosuch.sql")
THIRD = m(3, sql="CREATE TABLE c (id INT);", name="0003_create_c.sql")


def run_module(mariadb, tmp_path, cases, check=False):
    """One `ansible -m sql_migrations` run; one inventory host per case {host: (database, migrations)}."""
    inventory = tmp_path / f"cases-{'check' if check else 'run'}-{len(list(tmp_path.iterdir()))}.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {
        host: {"case_database": database, "case_migrations": migrations}
        for host, (database, migrations) in cases.items()}}}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_MODULE_UTILS="plugins/module_utils",
               ANSIBLE_NOCOLOR="1", ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    args = json.dumps({"database": "{{ case_database }}", "migrations": "{{ case_migrations }}",
                       "login_unix_socket": mariadb.socket})
    argv = [str(BIN / "ansible"), "all", "-i", str(inventory), "-c", "local", "-M", "plugins/modules",
            "-m", "sql_migrations", "-a", args] + (["--check"] if check else [])
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    results = {mt.group(1): dict(json.loads(mt.group(3)), status=mt.group(2))
               for mt in RESULT.finditer(proc.stdout)}
    assert set(results) == set(cases), proc.stdout + proc.stderr
    assert "Traceback (most recent call last)" not in proc.stdout + proc.stderr
    return results


@pytest.fixture(scope="module")
def module_runs(mariadb, tmp_path_factory):
    """Three runs in sequence, with the database state observed after each."""
    if not (BIN / "ansible").exists():
        pytest.skip(".venv has no ansible (make toolchain)")
    tmp = tmp_path_factory.mktemp("sql-migrations-module")
    for name in ("modapply", "modfail", "modcheck"):
        mariadb.create_database(name)
    mariadb.sql("DROP DATABASE IF EXISTS modmissing")
    state = {}
    state["run1"] = run_module(mariadb, tmp, {
        "apply": ("modapply", APP_MIGRATIONS),
        "fail": ("modfail", [m(1, sql="CREATE TABLE a (id INT);", name="0001_create_a.sql"), BROKEN, THIRD]),
        "missing": ("modmissing", APP_MIGRATIONS),
    })
    state["after1"] = {db: mariadb.recorded(db) for db in ("modapply", "modfail")}
    state["run2-check"] = run_module(mariadb, tmp, {
        "fresh": ("modcheck", APP_MIGRATIONS),
        "missing": ("modmissing", APP_MIGRATIONS),
        "applied-plus-one": ("modapply", APP_MIGRATIONS + [THIRD]),
    }, check=True)
    state["after2"] = {"modcheck": mariadb.tables("modcheck"), "modapply": mariadb.recorded("modapply"),
                       "databases": mariadb.sql("SHOW DATABASES").split()}
    state["run3"] = run_module(mariadb, tmp, {
        "again": ("modapply", APP_MIGRATIONS),
        "resume": ("modfail", [m(1, sql="CREATE TABLE a (id INT);", name="0001_create_a.sql"), FIXED, THIRD]),
    })
    state["after3"] = {db: mariadb.recorded(db) for db in ("modapply", "modfail")}
    return state


def test_module_applies_pending_migrations(module_runs):
    result = module_runs["run1"]["apply"]
    versions = [x["version"] for x in APP_MIGRATIONS]
    assert (result["status"], result["changed"]) == ("CHANGED", True)
    assert result["applied"] == versions
    assert result["schema_version"] == max(versions)
    assert re.fullmatch(r"\d+\.\d+\.\d+", result["server_version"])
    assert module_runs["after1"]["modapply"] == [(x["version"], x["name"]) for x in APP_MIGRATIONS]


def test_module_second_run_changes_nothing(module_runs):
    result = module_runs["run3"]["again"]
    assert (result["status"], result["changed"]) == ("SUCCESS", False)
    assert result["applied"] == []
    assert result["schema_version"] == max(x["version"] for x in APP_MIGRATIONS)
    assert module_runs["after3"]["modapply"] == module_runs["after1"]["modapply"]


def test_module_check_mode_reports_and_applies_nothing(module_runs):
    fresh = module_runs["run2-check"]["fresh"]
    assert (fresh["status"], fresh["changed"]) == ("CHANGED", True)
    assert fresh["applied"] == [x["version"] for x in APP_MIGRATIONS]
    assert module_runs["after2"]["modcheck"] == []  # not even schema_migrations was created
    one_more = module_runs["run2-check"]["applied-plus-one"]
    assert (one_more["changed"], one_more["applied"], one_more["schema_version"]) == (True, [3], 3)
    assert module_runs["after2"]["modapply"] == module_runs["after1"]["modapply"]


def test_module_check_mode_on_a_database_not_created_yet(module_runs):
    result = module_runs["run2-check"]["missing"]
    assert (result["status"], result["changed"]) == ("CHANGED", True)
    assert result["applied"] == [x["version"] for x in APP_MIGRATIONS]
    assert "modmissing" not in module_runs["after2"]["databases"]


def test_module_refuses_a_database_that_does_not_exist(module_runs):
    result = module_runs["run1"]["missing"]
    assert result["status"] == "FAILED!"
    assert result["msg"] == "database modmissing does not exist on this host"


def test_module_failing_migration_names_it_and_stops(module_runs):
    result = module_runs["run1"]["fail"]
    assert result["status"] == "FAILED!"
    assert result["msg"].startswith("migration 0002_alter_nosuch.sql failed: ")
    assert "ERROR 1146" in result["msg"] and "nosuch" in result["msg"]
    assert result["applied"] == [1]
    assert module_runs["after1"]["modfail"] == [(1, "0001_create_a.sql")]  # 3 was not attempted


def test_module_resumes_after_the_failed_migration_is_fixed(module_runs):
    result = module_runs["run3"]["resume"]
    assert (result["status"], result["applied"], result["schema_version"]) == ("CHANGED", [2, 3], 3)
    assert module_runs["after3"]["modfail"] == [
        (1, "0001_create_a.sql"), (2, "0002_alter_nosuch.sql"), (3, "0003_create_c.sql")]


def test_module_failure_after_applying_some_reports_changed(module_runs):
    result = module_runs["run1"]["fail"]
    assert result["applied"] == [1]
    assert result["changed"] is True
