"""The MariaDB side of backups: dump, binary logs, a scratch instance, load and replay.

Everything runs the stack's own client programs (mariadb, mariadb-dump, mariadb-binlog,
mariadb-install-db, mariadbd; their mysql* names on older servers) as root over a unix socket, with
``--no-defaults`` so no option file on the host changes what a backup or a restore does, and with
``LC_ALL=C`` and ``TZ=UTC`` (mariadb-binlog reads --stop-datetime in the local time zone).

The scratch instance is a second mariadbd beside production on the database host: its own
datadir, socket and no network, the binary log off, the same binaries (so the same version).
Restores and restore tests land there, never in production; an operator inspects it with
``mariadb --socket=<scratch socket>``.
"""
import os
import re
import shutil
import signal
import subprocess
import time

ENV = {"LC_ALL": "C", "TZ": "UTC"}
TOOLS = {
    "client": ("mariadb", "mysql"),
    "dump": ("mariadb-dump", "mysqldump"),
    "binlog": ("mariadb-binlog", "mysqlbinlog"),
    "install_db": ("mariadb-install-db", "mysql_install_db"),
    "server": ("mariadbd", "mysqld"),
}
SEARCH = ("/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/bin", "/sbin")
CHANGE_MASTER = re.compile(rb"CHANGE MASTER TO MASTER_LOG_FILE='([^']+)', MASTER_LOG_POS=(\d+)")
INTEGER_TYPES = ("tinyint", "smallint", "mediumint", "int", "bigint")
CHUNK = 1024 * 1024


class MariaDBError(Exception):
    """A MariaDB program failed; the message carries its own error."""


def find_tools(which=None, search=SEARCH):
    """{client, dump, binlog, install_db, server} -> paths (None for a program that is absent)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *search])
    which = which or (lambda name: shutil.which(name, path=path))
    return {role: next(filter(None, (which(n) for n in names)), None) for role, names in TOOLS.items()}


def _env():
    return dict(os.environ, **ENV)


def quote_identifier(name):
    return "`" + str(name).replace("`", "``") + "`"


def quote_string(text):
    return "'" + str(text).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _require(tools, role):
    if not tools.get(role):
        raise MariaDBError(f"{' or '.join(TOOLS[role])} is not installed on this host")
    return tools[role]


class Server:
    """A MariaDB server reached as root over its unix socket."""

    def __init__(self, socket, tools):
        self.socket, self.tools = socket, tools

    def client_argv(self, database=None, *extra):
        argv = [_require(self.tools, "client"), "--no-defaults", "--protocol=socket", f"--socket={self.socket}",
                "--user=root", "--default-character-set=utf8mb4", "--batch", "--skip-column-names",
                "--max-allowed-packet=1G", *extra]
        if database:
            argv.append(f"--database={database}")
        return argv

    def sql(self, statement, database=None, timeout=None):
        proc = subprocess.run(self.client_argv(database), input=statement.encode("utf-8"), capture_output=True,
                              env=_env(), timeout=timeout, check=False)
        if proc.returncode != 0:
            raise MariaDBError(proc.stderr.decode("utf-8", "replace").strip() or f"mariadb exited {proc.returncode}")
        return proc.stdout.decode("utf-8", "replace")

    def rows(self, statement, database=None):
        return [line.split("\t") for line in self.sql(statement, database).splitlines()]

    def alive(self):
        try:
            self.sql("SELECT 1", timeout=30)
            return True
        except (MariaDBError, OSError, subprocess.TimeoutExpired):
            return False

    def info(self):
        rows = self.rows("SELECT VERSION(), @@server_id, @@log_bin, IFNULL(@@log_bin_basename, ''), @@datadir")
        version, server_id, log_bin, basename, datadir = rows[0]
        return {"version": version, "server_id": int(server_id), "log_bin": log_bin in ("1", "ON"),
                "log_bin_basename": basename, "datadir": datadir}

    def database_defaults(self, database):
        rows = self.rows("SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
                         f"WHERE SCHEMA_NAME = {quote_string(database)}")
        if not rows:
            raise MariaDBError(f"database {database!r} does not exist on this server")
        return {"charset": rows[0][0], "collation": rows[0][1]}

    def master_status(self):
        rows = self.rows("SHOW MASTER STATUS")
        if not rows:
            raise MariaDBError("SHOW MASTER STATUS is empty: the binary log is off")
        return rows[0][0], int(rows[0][1])

    def flush_binary_logs(self):
        self.sql("FLUSH BINARY LOGS")

    def binary_logs(self):
        return [row[0] for row in self.rows("SHOW BINARY LOGS")]

    def create_database(self, database, defaults, replace=False, log_bin=True):
        prefix = "" if log_bin else "SET SESSION sql_log_bin = 0;\n"
        drop = f"DROP DATABASE IF EXISTS {quote_identifier(database)};\n" if replace else ""
        self.sql(f"{prefix}{drop}CREATE DATABASE {quote_identifier(database)} CHARACTER SET "
                 f"{defaults['charset']} COLLATE {defaults['collation']};")

    # --- dump and load -----------------------------------------------------------------------

    def dump_argv(self, database):
        """mariadb-dump for a base backup: consistent (one transaction), with its binlog position,
        starting a new binlog file (--flush-logs) so the chain after it starts cleanly."""
        return [_require(self.tools, "dump"), "--no-defaults", "--protocol=socket", f"--socket={self.socket}",
                "--user=root", "--single-transaction", "--master-data=2", "--flush-logs", "--routines",
                "--triggers", "--events", "--hex-blob", "--default-character-set=utf8mb4", "--quick",
                "--max-allowed-packet=1G", database]

    def dump(self, database, consume):
        """Run the dump; consume(chunk) gets its output. Returns (binlog file, position, bytes)."""
        proc = subprocess.Popen(self.dump_argv(database), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=_env())
        head, total, position = b"", 0, None
        tail = b""
        try:
            for chunk in iter(lambda: proc.stdout.read(CHUNK), b""):
                if position is None and len(head) < 1024 * 1024:
                    head += chunk
                    match = CHANGE_MASTER.search(head)
                    if match:
                        position = (match.group(1).decode("ascii"), int(match.group(2)))
                consume(chunk)
                total += len(chunk)
                tail = (tail + chunk)[-4096:]
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        stderr = proc.stderr.read().decode("utf-8", "replace").strip()
        if proc.wait() != 0:
            raise MariaDBError(f"mariadb-dump failed (exit {proc.returncode}): {stderr or 'no message'}")
        if position is None:
            raise MariaDBError("mariadb-dump printed no binlog position (is the binary log on?)")
        if b"-- Dump completed" not in tail:
            raise MariaDBError("mariadb-dump's output does not end with '-- Dump completed': it is truncated")
        return position[0], position[1], total

    def load(self, database, chunks, log_bin=True):
        """Feed SQL (an iterable of byte chunks) to the client, into `database`."""
        proc = subprocess.Popen(self.client_argv(database, "--binary-mode"), stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env())
        try:
            if not log_bin:
                proc.stdin.write(b"SET SESSION sql_log_bin = 0;\n")
            for chunk in chunks:
                proc.stdin.write(chunk)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        stderr = proc.stderr.read().decode("utf-8", "replace").strip()
        if proc.wait() != 0:
            raise MariaDBError(f"loading into {database} failed: {stderr or f'exit {proc.returncode}'}")

    def copy_database_to(self, database, target, target_database, log_bin=True):
        """Dump `database` from this server into `target_database` on `target` (a stream, no file)."""
        argv = [_require(self.tools, "dump"), "--no-defaults", "--protocol=socket", f"--socket={self.socket}",
                "--user=root", "--single-transaction", "--routines", "--triggers", "--events", "--hex-blob",
                "--default-character-set=utf8mb4", "--quick", "--max-allowed-packet=1G", database]
        dump = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
        try:
            target.load(target_database, iter(lambda: dump.stdout.read(CHUNK), b""), log_bin=log_bin)
        finally:
            stderr = dump.stderr.read().decode("utf-8", "replace").strip()
            if dump.wait() != 0:
                raise MariaDBError(f"copying {database} failed: {stderr or f'exit {dump.returncode}'}")

    def replay(self, paths, database, start_position, stop=None):
        """Replay archived binlogs (in chain order) into this server: only `database`'s events,
        from start_position in the first file, up to stop ({datetime} or {position}, in the last)."""
        if not paths:
            return
        argv = [_require(self.tools, "binlog"), "--no-defaults", f"--database={database}",
                f"--start-position={int(start_position)}"]
        if stop and stop.get("datetime"):
            argv.append(f"--stop-datetime={stop['datetime']}")
        if stop and stop.get("position"):
            argv.append(f"--stop-position={int(stop['position'])}")
        argv.extend(paths)
        reader = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
        try:
            self.load(database, iter(lambda: reader.stdout.read(CHUNK), b""))
        finally:
            stderr = reader.stderr.read().decode("utf-8", "replace").strip()
            if reader.wait() != 0:
                raise MariaDBError(f"mariadb-binlog failed (exit {reader.returncode}): {stderr or 'no message'}")

    # --- what a database holds ---------------------------------------------------------------

    def tables(self, database):
        """[(table, integer primary key column or None)] for the base tables of `database`."""
        rows = self.rows(
            "SELECT t.TABLE_NAME, (SELECT IF(COUNT(*) = 1, MAX(k.COLUMN_NAME), NULL) "
            "  FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.COLUMNS c "
            "  ON c.TABLE_SCHEMA = k.TABLE_SCHEMA AND c.TABLE_NAME = k.TABLE_NAME AND c.COLUMN_NAME = k.COLUMN_NAME "
            "  WHERE k.TABLE_SCHEMA = t.TABLE_SCHEMA AND k.TABLE_NAME = t.TABLE_NAME AND k.CONSTRAINT_NAME = 'PRIMARY' "
            f"  AND c.DATA_TYPE IN ({', '.join(quote_string(x) for x in INTEGER_TYPES)})) "
            "FROM information_schema.TABLES t "
            f"WHERE t.TABLE_SCHEMA = {quote_string(database)} AND t.TABLE_TYPE = 'BASE TABLE' ORDER BY t.TABLE_NAME")
        return [(name, None if key in ("NULL", "") else key) for name, key in rows]

    @staticmethod
    def _stats_sql(tables):
        parts = []
        for name, key in tables:
            highest = f"IFNULL(MAX({quote_identifier(key)}), 0)" if key else "NULL"
            parts.append(f"SELECT {quote_string(name)}, COUNT(*), {highest} FROM {quote_identifier(name)};")
        return "\n".join(parts)

    @staticmethod
    def _parse_stats(lines):
        stats = {}
        for line in lines:
            cells = line.split("\t")
            if len(cells) == 3:
                stats[cells[0]] = {"rows": int(cells[1]), "max_id": None if cells[2] == "NULL" else int(cells[2])}
        return stats

    def table_stats(self, database, tables=None):
        """{table: {rows, max_id}} for the app tables (max_id: the integer primary key's, else None)."""
        tables = self.tables(database) if tables is None else tables
        if not tables:
            return {}
        return self._parse_stats(self.sql(self._stats_sql(tables), database).splitlines())

    def snapshot_stats(self, database):
        """Row counts and max ids in one consistent snapshot, and the binlog position it matches:
        {binlog: {file, position}, tables: {...}}. Every commit before the position is in the
        numbers, none after (START TRANSACTION WITH CONSISTENT SNAPSHOT + binlog_snapshot_*)."""
        tables = self.tables(database)
        script = ("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ;\n"
                  "START TRANSACTION WITH CONSISTENT SNAPSHOT;\n"
                  "SHOW STATUS LIKE 'binlog_snapshot_file';\n"
                  "SHOW STATUS LIKE 'binlog_snapshot_position';\n"
                  + self._stats_sql(tables) + "\nCOMMIT;\n")
        lines = self.sql(script, database).splitlines()
        status = {k.lower(): v for k, v in (line.split("\t", 1) for line in lines
                                             if line.lower().startswith("binlog_snapshot_"))}
        if not status.get("binlog_snapshot_file"):
            raise MariaDBError("the server reports no binlog snapshot position (is the binary log on?)")
        return {"binlog": {"file": status["binlog_snapshot_file"],
                           "position": int(status["binlog_snapshot_position"])},
                "tables": self._parse_stats(lines)}


def _alive(pid):
    """Whether process `pid` runs (a zombie, exited but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


class ScratchInstance:
    """A throwaway mariadbd beside production: <base>/data, <base>/mysqld.sock, no network.

    Started and stopped through a systemd unit when `unit` is given (what the backup role
    installs), else as a child process (the unit tests and benchmarks).
    """

    def __init__(self, base, tools, user="mysql", unit=None, buffer_pool="128M", wait=120):
        self.base, self.tools, self.user, self.unit = base, tools, user, unit
        self.buffer_pool, self.wait = buffer_pool, wait
        self.datadir = os.path.join(base, "data")
        self.socket = os.path.join(base, "mysqld.sock")
        self.pid_file = os.path.join(base, "mysqld.pid")
        self.log = os.path.join(base, "error.log")
        self.defaults = os.path.join(base, "my.cnf")
        self._process = None

    def server(self):
        return Server(self.socket, self.tools)

    def config_text(self):
        return "\n".join([
            "# Written by stackguard-backup: the scratch instance restores land in.",
            "[mysqld]", f"datadir = {self.datadir}", f"socket = {self.socket}", f"pid-file = {self.pid_file}",
            f"log-error = {self.log}", f"user = {self.user}", "skip-networking", "skip-log-bin",
            "skip-slave-start", f"innodb_buffer_pool_size = {self.buffer_pool}",
            # A scratch copy is rebuilt from the backup if the host crashes: no need to sync.
            "innodb_flush_log_at_trx_commit = 0", "innodb_doublewrite = 0", "max_allowed_packet = 1G",
            "character-set-server = utf8mb4", "collation-server = utf8mb4_unicode_ci", ""])

    def running(self):
        return Server(self.socket, self.tools).alive() if os.path.exists(self.socket) else False

    def stop(self):
        if self.unit:
            subprocess.run(["systemctl", "stop", self.unit], capture_output=True, env=_env(), check=False)
            return
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=self.wait)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
            return
        try:
            with open(self.pid_file, encoding="ascii") as handle:
                pid = int(handle.read().strip())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + self.wait
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)

    def reset(self):
        """Stop it, and give it an empty, initialized datadir."""
        self.stop()
        os.makedirs(self.base, mode=0o750, exist_ok=True)
        if os.path.isdir(self.datadir):
            shutil.rmtree(self.datadir)
        os.makedirs(self.datadir, mode=0o700)
        shutil.chown(self.datadir, self.user, self.user)
        shutil.chown(self.base, self.user, self.user)
        with open(self.defaults, "w", encoding="utf-8") as handle:
            handle.write(self.config_text())
        os.chmod(self.defaults, 0o644)
        argv = [_require(self.tools, "install_db"), f"--defaults-file={self.defaults}", f"--datadir={self.datadir}",
                f"--user={self.user}", "--auth-root-authentication-method=socket", "--skip-test-db"]
        server = self.tools.get("server")
        if server:
            argv.append(f"--basedir={os.path.dirname(os.path.dirname(server))}")
        proc = subprocess.run(argv, capture_output=True, env=_env(), check=False)
        if proc.returncode != 0:
            raise MariaDBError("mariadb-install-db failed for the scratch instance: "
                               + (proc.stdout + proc.stderr).decode("utf-8", "replace").strip()[-2000:])

    def start(self):
        if self.unit:
            proc = subprocess.run(["systemctl", "start", self.unit], capture_output=True, env=_env(), check=False)
            if proc.returncode != 0:
                raise MariaDBError(f"systemctl start {self.unit} failed: "
                                   f"{proc.stderr.decode('utf-8', 'replace').strip()}; see {self.log}")
        else:
            with open(os.devnull, "wb") as null:
                self._process = subprocess.Popen([_require(self.tools, "server"), f"--defaults-file={self.defaults}"],
                                 stdin=null, stdout=null, stderr=null, env=_env(), start_new_session=True)
        deadline = time.monotonic() + self.wait
        while not self.running():
            if time.monotonic() > deadline:
                raise MariaDBError(f"the scratch instance did not start within {self.wait}s: {self._log_tail()}")
            time.sleep(0.2)
        return self.server()

    def remove(self):
        self.stop()
        if os.path.isdir(self.datadir):
            shutil.rmtree(self.datadir)

    def _log_tail(self):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as handle:
                return handle.read()[-1500:]
        except OSError:
            return f"no log at {self.log}"
