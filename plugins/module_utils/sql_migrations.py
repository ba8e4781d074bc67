"""Forward-only SQL migrations applied through the MariaDB command-line client.

Each migration is {version: int, name: str, sql: str}; applied ones are recorded in
schema_migrations(version, name, applied_at). Only versions above nothing-applied-yet are run,
in ascending order, each followed by its record, so an interrupted run resumes where it stopped.
The client runs as the local root user over the unix socket, so no password crosses the wire.
"""
import os
import re

TABLE_DDL = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INT UNSIGNED NOT NULL PRIMARY KEY, "
    "name VARCHAR(255) NOT NULL, "
    "applied_at DATETIME(6) NOT NULL"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")


class MigrationError(Exception):
    pass


def validate(migrations):
    seen = set()
    for item in migrations:
        version = item.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise MigrationError(f"migration {item.get('name')!r}: version must be a number >= 1")
        if version in seen:
            raise MigrationError(f"migration version {version} appears twice")
        if not str(item.get("sql") or "").strip():
            raise MigrationError(f"migration {version} ({item.get('name')}) is empty")
        seen.add(version)
    return sorted(migrations, key=lambda m: m["version"])


def pending(migrations, applied_versions):
    """The migrations not yet applied, in order."""
    applied = set(applied_versions)
    return [m for m in validate(migrations) if m["version"] not in applied]


def sql_quote(text):
    return "'" + str(text).replace("\\", "\\\\").replace("'", "\\'") + "'"


class MariaDBClient:
    """Runs SQL with the `mariadb` (or `mysql`) client; `run_command` is AnsibleModule's."""

    def __init__(self, run_command, client, database, socket):
        self.run_command, self.client = run_command, client
        self.database, self.socket = database, socket

    def execute(self, sql, database=True):
        # utf8mb4 explicitly: under LC_ALL=C the client would talk latin1 and mangle text.
        argv = [self.client, "--protocol=socket", f"--socket={self.socket}",
                "--default-character-set=utf8mb4", "--batch", "--skip-column-names"]
        if database:
            argv.append(f"--database={self.database}")
        rc, out, err = self.run_command(argv, data=sql, binary_data=True,
                                        environ_update={"LC_ALL": "C"})
        if rc != 0:
            raise MigrationError(err.strip() or f"{self.client} exited {rc}")
        return out

    # information_schema with `=`, not SHOW ... LIKE: in LIKE, `_` matches any character.
    def database_exists(self):
        out = self.execute("SELECT COUNT(*) FROM information_schema.SCHEMATA "
                           f"WHERE SCHEMA_NAME = {sql_quote(self.database)}", database=False)
        return out.strip() == "1"

    def applied_versions(self):
        tables = self.execute("SELECT COUNT(*) FROM information_schema.TABLES "
                              "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'schema_migrations'")
        if tables.strip() != "1":
            return []
        out = self.execute("SELECT version FROM schema_migrations ORDER BY version")
        return [int(line) for line in out.split()]

    def server_version(self):
        """The server's version number (10.5.29 of 10.5.29-MariaDB-0+deb11u1)."""
        out = self.execute("SELECT VERSION()", database=False).strip()
        match = re.match(r"\d+\.\d+\.\d+", out)
        return match.group(0) if match else out

    def apply(self, migration):
        record = ("INSERT INTO schema_migrations (version, name, applied_at) VALUES "
                  f"({int(migration['version'])}, {sql_quote(migration['name'])}, NOW(6));")
        self.execute(TABLE_DDL + ";\n")
        self.execute(migration["sql"].rstrip().rstrip(";") + ";\n" + record + "\n")


def client_path(get_bin_path):
    for name in ("mariadb", "mysql"):
        path = get_bin_path(name)
        if path and os.access(path, os.X_OK):
            return path
    raise MigrationError("neither `mariadb` nor `mysql` client found on this host")
