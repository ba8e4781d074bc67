"""The backup jobs on the database host, and the two host-side programs' command lines.

``stackguard-backup`` (database host; the timers, the pre-deploy hook, the restore and
restore-test modules all end up here)::

    stackguard-backup base [--kind daily|pre_deploy|manual]   dump, compress, checksum, manifest, ship,
                                                              archive the binlogs, apply retention
    stackguard-backup binlogs [--force-flush]                 flush, ship the closed binlogs
    stackguard-backup plan --to POINT                         what a restore would use (changes nothing)
    stackguard-backup restore --to POINT [--in-place]         restore into the scratch instance
    stackguard-backup verify                                  restore test: latest into scratch, compare
    stackguard-backup list                                    what the store holds

``stackguard-backup-store`` (backup host; the SSH forced command, see backup_store).

Every run records its outcome (backup_status: JSON status file and Prometheus textfile); a failed
base backup, binlog archive or restore test exits non-zero and alerts with
``stackguard-notify --kind backup_failed``. Runs are serialized by an flock, so the 23:59 backup,
the 5-minute archive and a restore never interleave.
"""
import argparse
import errno
import fcntl
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

from ansible.module_utils.backup_binlog import BinlogError, has_activity, read_binlog, read_header
from ansible.module_utils.backup_catalog import (
    BASE_KINDS, CatalogError, FORMAT, base_id, binlog_key, human, iso, normalize, stamp)
from ansible.module_utils.backup_mariadb import CHUNK, MariaDBError, ScratchInstance, Server, find_tools
from ansible.module_utils.backup_plan import RestoreRefused, plan
from ansible.module_utils.backup_status import load as load_status, record, save, write_atomic
from ansible.module_utils.backup_store import Store, StoreClient, StoreError, serve, sha256_file
from ansible.module_utils.file_paths import make_dirs

CONFIG = "/etc/stackguard/backup.json"
STORE_CONFIG = "/etc/stackguard/backup-store.json"
NOTIFY = "/usr/local/bin/stackguard-notify"
TOOL = "mariadb-dump --single-transaction --master-data=2 --flush-logs"
DEFAULTS = {
    "work_dir": "/var/lib/stackguard/backup",
    "status_file": "/var/lib/stackguard/backup/status.json",
    "metrics_file": "",
    "socket": "/run/mysqld/mysqld.sock",
    "compress_level": 6,
    "lock_file": "/run/stackguard-backup.lock",
    "lock_timeout": 7200,
    "notify": NOTIFY,
    "scratch": {"dir": "/var/lib/stackguard/restore", "unit": "", "user": "mysql", "buffer_pool": "128M"},
    # The restore test's own instance: it never replaces a restore an operator is looking at.
    "test_scratch": {},
}


class JobFailed(Exception):
    """A backup job that failed; the message says what and why."""


def load_config(path):
    try:
        with open(path, encoding="utf-8") as handle:
            config = json.load(handle)
    except FileNotFoundError:
        raise JobFailed(f"{path} does not exist: the backup role has not configured this host "
                        f"(run playbooks/configure-backup.yml)") from None
    except ValueError as exc:
        raise JobFailed(f"{path} is not JSON: {exc}") from None
    for field in ("source", "database", "store"):
        if not config.get(field):
            raise JobFailed(f"{path}: field '{field}' is missing")
    merged = dict(DEFAULTS)
    merged.update(config)
    merged["scratch"] = dict(DEFAULTS["scratch"], **(config.get("scratch") or {}))
    merged["test_scratch"] = dict(merged["scratch"], dir=merged["scratch"]["dir"] + "-test", unit="")
    merged["test_scratch"].update(config.get("test_scratch") or {})
    return merged


class HashingWriter:
    """A binary file object that hashes and counts what is written through it."""

    def __init__(self, raw):
        self.raw, self.digest, self.size = raw, hashlib.sha256(), 0

    def write(self, data):
        self.digest.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self):
        self.raw.flush()


class Lock:
    """An flock on lock_file, waited for up to `timeout` seconds."""

    def __init__(self, path, timeout):
        self.path, self.timeout, self.handle = path, timeout, None

    def __enter__(self):
        make_dirs(os.path.dirname(self.path) or "/", 0o755)
        self.handle = open(self.path, "a+", encoding="utf-8")
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if time.monotonic() > deadline:
                self.handle.close()
                raise JobFailed(f"another backup run holds {self.path} for more than {self.timeout}s")
            time.sleep(0.5)

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()
        return False


def notify_command(path):
    """A notifier that runs stackguard-notify (host_tools) and never raises."""

    def notify(kind, status, summary, details):
        if not os.access(path, os.X_OK):
            print(f"stackguard-backup: {path} is not installed: no alert sent for: {summary}", file=sys.stderr)
            return
        argv = [path, "--kind", kind, "--status", status, "--summary", summary,
                "--details-json", json.dumps(details, sort_keys=True, default=str)]
        try:
            subprocess.run(argv, timeout=60, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            print(f"stackguard-backup: {path} failed: {exc}", file=sys.stderr)

    return notify


def _gunzip_chunks(path):
    with gzip.open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            yield chunk


class Jobs:
    def __init__(self, config, tools=None, store=None, notify=None, clock=time.time, log=None):
        self.config = config
        self.tools = tools or find_tools()
        self.store = store or StoreClient(config["store"])
        self.notify = notify or notify_command(config.get("notify") or NOTIFY)
        self.clock = clock
        self.log = log or (lambda message: print(message, file=sys.stderr))
        self.database = config["database"]
        self.server = Server(config["socket"], self.tools)
        self.scratch, self.test_scratch = (
            ScratchInstance(scratch["dir"], self.tools, user=scratch.get("user") or "mysql",
                            unit=scratch.get("unit") or None, buffer_pool=scratch.get("buffer_pool") or "128M")
            for scratch in (config["scratch"], config["test_scratch"]))
        self.work_dir = config["work_dir"]

    # --- bookkeeping -------------------------------------------------------------------------

    def _lock(self):
        return Lock(self.config["lock_file"], int(self.config["lock_timeout"]))

    def _record(self, kind, ok, started, size=None, error=None, details=None):
        try:
            state = record(load_status(self.config["status_file"]), kind, ok, self.clock(),
                           self.clock() - started, size=size, error=error, details=details)
            save(state, self.config["status_file"], self.config.get("metrics_file") or None)
        except OSError as exc:
            # The status file's own disk may be the one that is full: say so, and still fail/alert.
            self.log(f"stackguard-backup: could not write the status files: {exc}")

    def _failed(self, kind, started, error, details=None):
        message = str(error)
        self._record(kind, False, started, error=message, details=details)
        what = {"binlog": "binlog archiving", "verify": "the restore test"}.get(kind, f"the {kind} base backup")
        self.notify("backup_failed", "failed",
                    f"{what} failed on {self.config['source']}: {message}",
                    dict(details or {}, kind=kind, source=self.config["source"],
                         environment=self.config.get("environment"), error=message))
        return JobFailed(f"{what} failed: {message}")

    def _run(self, kind, job):
        started = self.clock()
        try:
            with self._lock():
                size, details = job()
        except (JobFailed, MariaDBError, StoreError, CatalogError, BinlogError, RestoreRefused, OSError,
                subprocess.SubprocessError) as exc:
            raise self._failed(kind, started, exc) from None
        self._record(kind, True, started, size=size, details=details)
        return details

    # --- base backups ------------------------------------------------------------------------

    def base(self, kind="manual"):
        """Take, ship and prune a base backup; then archive the binlogs it closed."""
        if kind not in BASE_KINDS:
            raise JobFailed(f"backup kind {kind!r} is not one of {', '.join(BASE_KINDS)}")

        def job():
            details = self._base(kind)
            try:
                details["archive"] = self._archive(force_flush=False)
            except (JobFailed, MariaDBError, StoreError, BinlogError, OSError) as exc:
                details["archive_error"] = str(exc)
                self.notify("backup_failed", "warning",
                            f"binlog archiving after the {kind} base backup failed on {self.config['source']}: {exc}",
                            {"kind": "binlog", "source": self.config["source"], "error": str(exc)})
            return details["dump"]["size"], details

        return self._run(kind, job)

    def _new_id(self, kind):
        spool_root = os.path.join(self.work_dir, "spool")
        moment = int(self.clock())
        for n in range(0, 1000):
            candidate = base_id(moment, kind, n)
            if not os.path.exists(os.path.join(spool_root, candidate)):
                return candidate, moment
        raise JobFailed("no free base backup id")

    def _binlog_dir(self, info):
        return os.path.dirname(info["log_bin_basename"]) if info["log_bin_basename"] else None

    def _base(self, kind):
        started = self.clock()
        info = self.server.info()
        if not info["log_bin"]:
            raise JobFailed("the binary log is off on this server: base backups alone cannot restore "
                            "to a point in time (the database role turns it on)")
        defaults = self.server.database_defaults(self.database)
        backup_id, moment = self._new_id(kind)
        spool = os.path.join(self.work_dir, "spool", backup_id)
        make_dirs(spool, 0o700)
        try:
            dump_path = os.path.join(spool, "dump.sql.gz")
            with open(dump_path, "wb") as raw:
                hashing = HashingWriter(raw)
                with gzip.GzipFile(filename="dump.sql", fileobj=hashing, mode="wb",
                                   compresslevel=int(self.config["compress_level"]), mtime=0) as compressed:
                    binlog_file, position, uncompressed = self.server.dump(self.database, compressed.write)
                raw.flush()
                os.fsync(raw.fileno())
            finished = self.clock()
            consistent = None
            binlog_dir = self._binlog_dir(info)
            if binlog_dir:
                try:
                    consistent = read_header(os.path.join(binlog_dir, binlog_file))["started_at"]
                except (OSError, BinlogError):
                    consistent = None
            if consistent is None:  # later than the snapshot is safe: the planner then replays more
                consistent = int(finished) + 1
            manifest = {
                "format": FORMAT, "id": backup_id, "kind": kind, "database": self.database,
                "source": self.config["source"], "environment": self.config.get("environment"),
                "stack": self.config.get("stack"), "created_at": iso(moment), "finished_at": iso(finished),
                "consistent_at": iso(consistent), "binlog": {"file": binlog_file, "position": position},
                "server_version": info["version"], "server_id": info["server_id"],
                "database_defaults": defaults, "tool": TOOL,
                "dump": {"file": "dump.sql.gz", "sha256": hashing.digest.hexdigest(), "size": hashing.size,
                         "uncompressed_size": uncompressed, "compression": "gzip"},
                "duration_seconds": round(finished - started, 3),
            }
            manifest_path = os.path.join(spool, "manifest.json")
            write_atomic(manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n", 0o600)
            self.log(f"base backup {backup_id}: {hashing.size} bytes compressed ({uncompressed} bytes of SQL), "
                     f"binlog {binlog_file}:{position}; shipping to {self.store.describe()}")
            self.store.put_base(backup_id, dump_path)
            self.store.put_base(backup_id, manifest_path)
        finally:
            shutil.rmtree(spool, ignore_errors=True)
        details = {"id": backup_id, "kind": kind, "binlog": manifest["binlog"], "consistent_at": manifest["consistent_at"],
                   "dump": manifest["dump"], "server_version": info["version"]}
        try:
            pruned = self.store.prune()
            details["pruned"] = {"bases": pruned.get("delete", []), "binlogs": len(pruned.get("delete_binlogs", []))}
        except StoreError as exc:
            details["prune_error"] = str(exc)
            self.notify("backup_failed", "warning", f"retention failed on the backup store: {exc}",
                        {"kind": kind, "source": self.config["source"], "error": str(exc)})
        return details

    # --- binlog archiving --------------------------------------------------------------------

    def binlogs(self, force_flush=False):
        def job():
            details = self._archive(force_flush)
            return details["shipped_bytes"], details

        return self._run("binlog", job)

    def _archive(self, force_flush, check_chain=True):
        info = self.server.info()
        if not info["log_bin"]:
            raise JobFailed("the binary log is off on this server: there is nothing to archive")
        binlog_dir = self._binlog_dir(info)
        current = list(self.server.master_status())
        flushed = False
        if force_flush or has_activity(os.path.join(binlog_dir, current[0])):
            self.server.flush_binary_logs()
            current, flushed = list(self.server.master_status()), True
        closed = [name for name in self.server.binary_logs() if name != current[0]]
        archived = {b["key"] for b in self.store.list().get("binlogs") or []}
        shipped, shipped_bytes = [], 0
        for name in closed:
            path = os.path.join(binlog_dir, name)
            try:
                key = binlog_key(read_header(path)["started_at"], name)
            except FileNotFoundError:
                continue  # purged by the server between SHOW BINARY LOGS and now
            if key in archived:
                continue
            self.store.put_binlog(path, name)
            shipped.append(name)
            shipped_bytes += os.path.getsize(path)
        catalog = normalize(self.store.list())
        details = {"flushed": flushed, "shipped": shipped, "shipped_bytes": shipped_bytes, "current": current[0],
                   "archived": len(catalog["binlogs"])}
        if catalog["binlogs"]:
            details["archived_until"] = iso(max(b["last_event_at"] for b in catalog["binlogs"]))
        if catalog["bases"] and check_chain:
            try:
                reach = plan(catalog, "latest", database=self.database)
            except RestoreRefused as exc:
                raise JobFailed(f"the archive cannot be restored to its latest point: {exc}") from None
            details["restorable_until"] = reach["restores_until"]
            # What follows the archive's newest file must still be on this server.
            files = reach["binlogs"]
            following = (files[-1]["next"] if files else reach["base"]["binlog"]["file"])
            if following not in self.server.binary_logs():
                raise JobFailed(
                    f"{following} is neither on this server nor in the archive: it was purged before it "
                    f"was archived (a gap after {files[-1]['name'] if files else reach['base']['id']}). Points "
                    f"after {reach['restores_until']} cannot be restored until a new base backup starts a new "
                    f"chain: run stackguard-backup base now, and archive more often than the server purges.")
        if shipped:
            self.log(f"archived {len(shipped)} binlog(s) to {self.store.describe()}: {', '.join(shipped)}")
        return details

    # --- restore -----------------------------------------------------------------------------

    def _server_version(self, alive):
        if alive:
            return self.server.info()["version"]
        binary = self.tools.get("server")
        if not binary:
            return None
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False).stdout
        words = [w for w in out.split() if w[:1].isdigit()]
        return words[0] if words else None

    def _unarchived_binlogs(self, catalog):
        """The server's binlog files the archive does not hold yet, as the planner sees archived ones."""
        binlog_dir = self._binlog_dir(self.server.info())
        archived = {b["key"] for b in catalog["binlogs"]}
        out = []
        for name in self.server.binary_logs():
            try:
                meta = read_binlog(os.path.join(binlog_dir, name), name)
            except (OSError, BinlogError):
                continue
            key = binlog_key(meta["started_at"], name)
            if key not in archived:
                out.append(dict(meta, key=key, sha256="(not archived yet)", local=True))
        return out

    def plan(self, restore_to):
        """The plan a restore would follow now (the binlogs not archived yet included); changes nothing."""
        return self.restore(restore_to, check=True)["plan"]

    def restore(self, restore_to, in_place=False, check=False, archive_first=True):
        """Restore `restore_to` into the scratch instance (and, in place, into production)."""
        started = self.clock()
        try:
            result = self._restore(restore_to, in_place, check, archive_first, started)
        except (JobFailed, MariaDBError, StoreError, CatalogError, BinlogError, RestoreRefused, OSError,
                subprocess.SubprocessError) as exc:
            if not check:
                self._record("restore", False, started, error=exc, details={"point": str(restore_to)})
            raise
        if result["changed"]:
            self._record("restore", True, started, details={
                "point": result["plan"]["point"], "base": result["plan"]["base"]["id"], "in_place": bool(in_place)})
        return result

    def _restore(self, restore_to, in_place, check, archive_first, started):
        with self._lock():
            alive = self.server.alive()
            archive = None
            if alive and archive_first and not check:
                # A gap in the archive does not stop a restore to a point before it: the planner
                # refuses the points it makes unreachable.
                archive = self._archive(force_flush=True, check_chain=False)
            catalog = normalize(self.store.list())
            if check and alive and archive_first:
                # What archiving would ship first, read from the server's binlog directory.
                catalog["binlogs"] = catalog["binlogs"] + self._unarchived_binlogs(catalog)
            the_plan = plan(catalog, restore_to, self._server_version(alive), self.database)
            result = {"plan": the_plan, "archive": archive, "in_place": bool(in_place), "changed": False}
            if check:
                return result
            if in_place and not alive:
                raise RestoreRefused(
                    "restore_in_place needs the production server running (it takes a safety backup "
                    "first, then replaces the database); start MariaDB, or restore to the scratch instance.")
            server = self._restore_into_scratch(the_plan)
            result["changed"] = True
            result["tables"] = server.table_stats(self.database)
            result["scratch_socket"] = self.scratch.socket
            if in_place:
                result.update(self._replace_production(the_plan, server))
                self.scratch.remove()
                result["scratch_socket"] = None
            result["duration_seconds"] = round(self.clock() - started, 3)
        return result

    def _fetch(self, the_plan):
        """Copy the plan's files here and check each sha256; RestoreRefused on a mismatch."""
        work = os.path.join(self.work_dir, "restore")
        shutil.rmtree(work, ignore_errors=True)
        make_dirs(work, 0o700)
        base = the_plan["base"]
        dump = self.store.get_base(base["id"], base["dump"]["file"], os.path.join(work, base["dump"]["file"]))
        wanted = [(dump, base["dump"]["sha256"], f"base backup {base['id']}/{base['dump']['file']}")]
        binlogs = []
        for binlog in the_plan["binlogs"]:
            path = self.store.get_binlog(binlog["key"], os.path.join(work, binlog["name"]))
            wanted.append((path, binlog["sha256"], f"archived binlog {binlog['key']}"))
            binlogs.append(path)
        for path, expected, what in wanted:
            actual = sha256_file(path)
            if actual != expected:
                shutil.rmtree(work, ignore_errors=True)
                raise RestoreRefused(
                    f"checksum mismatch: {what} has sha256 {actual}, its record says {expected}. The copy on "
                    f"the backup host is damaged; nothing was restored. Choose a point served by another "
                    f"base backup, or repair the file from another copy.")
        return work, dump, binlogs

    def _restore_into_scratch(self, the_plan, scratch=None):
        scratch = scratch or self.scratch
        work, dump, binlogs = self._fetch(the_plan)
        try:
            self.log(f"restoring {the_plan['base']['id']} and {len(binlogs)} binlog(s) into the scratch "
                     f"instance ({scratch.socket}) up to {the_plan['restores_until']}")
            scratch.reset()
            server = scratch.start()
            manifest_defaults = {"charset": "utf8mb4", "collation": "utf8mb4_unicode_ci"}
            manifest_defaults.update(the_plan["base"].get("database_defaults") or {})
            server.create_database(self.database, manifest_defaults)
            server.load(self.database, _gunzip_chunks(dump))
            server.replay(binlogs, self.database, the_plan["start_position"], the_plan["stop"])
            return server
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _replace_production(self, the_plan, scratch_server):
        safety = self._base("safety")
        binlog_file, position = self.server.master_status()
        moment = int(self.clock())
        marker = {"id": f"{stamp(moment)}-in_place_restore", "at": iso(moment),
                  "binlog": {"file": binlog_file, "position": position}, "restored_to": the_plan["point"],
                  "base": the_plan["base"]["id"], "safety_backup": safety["id"]}
        make_dirs(self.work_dir, 0o700)
        self.store.put_marker(marker, self.work_dir)
        defaults = self.server.database_defaults(self.database)
        self.log(f"replacing {self.database} on the production server (safety backup {safety['id']})")
        # Not binlogged: the binlogs before this point describe the old data. The marker tells the
        # planner not to replay across it, and the base backup taken next starts a new chain.
        self.server.create_database(self.database, defaults, replace=True, log_bin=False)
        scratch_server.copy_database_to(self.database, self.server, self.database, log_bin=False)
        after = self._base("after_restore")
        return {"safety_backup": safety["id"], "after_restore_backup": after["id"], "marker": marker["id"],
                "production_tables": self.server.table_stats(self.database)}

    # --- restore test ------------------------------------------------------------------------

    def verify(self):
        """Restore the latest backup plus binlogs into scratch and compare with live at that point."""

        def job():
            live = self.server.snapshot_stats(self.database)
            self._archive(force_flush=True)
            catalog = normalize(self.store.list())
            point = {"kind": "position", "file": live["binlog"]["file"], "position": live["binlog"]["position"],
                     "text": f"{live['binlog']['file']}:{live['binlog']['position']}"}
            the_plan = plan(catalog, point, self._server_version(True), self.database)
            try:
                restored = self._restore_into_scratch(the_plan, self.test_scratch).table_stats(self.database)
            finally:
                self.test_scratch.remove()
            differences = compare_stats(live["tables"], restored)
            details = {"point": the_plan["point"], "base": the_plan["base"]["id"],
                       "binlogs": len(the_plan["binlogs"]), "live": live["tables"], "restored": restored,
                       "differences": differences}
            if differences:
                raise JobFailed("the restored copy differs from the live database at "
                                f"{the_plan['point']}: {'; '.join(differences)}")
            return sum(t["rows"] for t in restored.values()), details

        return self._run("verify", job)

    def list(self):
        catalog = normalize(self.store.list())
        return {
            "source": catalog["source"],
            "bases": [{"id": b["id"], "consistent_at": human(b["consistent_at"]), "size": b["dump"]["size"],
                       "binlog": f"{b['file']}:{b['position']}", "server_version": b["server_version"]}
                      for b in catalog["bases"]],
            "bad_bases": [{"id": b["id"], "problems": b["problems"]} for b in catalog["bad_bases"]],
            "binlogs": {"count": len(catalog["binlogs"]),
                        "first": catalog["binlogs"][0]["key"] if catalog["binlogs"] else None,
                        "last": catalog["binlogs"][-1]["key"] if catalog["binlogs"] else None,
                        "archived_until": human(catalog["binlogs"][-1]["last_event_at"]) if catalog["binlogs"] else None},
            "markers": [m["id"] for m in catalog["markers"]],
        }


def compare_stats(live, restored):
    """Differences between two {table: {rows, max_id}} maps, one readable line each."""
    out = []
    for table in sorted(set(live) | set(restored)):
        if table not in restored:
            out.append(f"table {table} is missing from the restored copy")
        elif table not in live:
            out.append(f"table {table} exists only in the restored copy")
        else:
            for field in ("rows", "max_id"):
                if live[table][field] != restored[table][field]:
                    out.append(f"{table}.{field}: live {live[table][field]}, restored {restored[table][field]}")
    return out


# --- command lines -------------------------------------------------------------------------------

def main(argv=None, jobs_factory=None):
    """stackguard-backup: exit 0 on success, 1 when a job failed, 2 when a restore was refused."""
    parser = argparse.ArgumentParser(prog="stackguard-backup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=CONFIG)
    commands = parser.add_subparsers(dest="command", required=True)
    base = commands.add_parser("base", help="take, ship and prune a base backup")
    base.add_argument("--kind", default="manual", choices=["daily", "pre_deploy", "manual"])
    binlogs = commands.add_parser("binlogs", help="flush and ship the closed binlogs")
    binlogs.add_argument("--force-flush", action="store_true")
    for name in ("plan", "restore"):
        sub = commands.add_parser(name, help=f"{name} a point in time")
        sub.add_argument("--to", required=True, help="UTC time, latest, or file:position")
        if name == "restore":
            sub.add_argument("--in-place", action="store_true")
    commands.add_parser("verify", help="restore test: latest into scratch, compare with live")
    commands.add_parser("list", help="what the store holds")
    args = parser.parse_args(argv)
    os.umask(0o077)
    try:
        jobs = (jobs_factory or (lambda path: Jobs(load_config(path))))(args.config)
        if args.command == "base":
            result = jobs.base(args.kind)
        elif args.command == "binlogs":
            result = jobs.binlogs(args.force_flush)
        elif args.command == "plan":
            result = jobs.plan(args.to)
        elif args.command == "restore":
            result = jobs.restore(args.to, in_place=args.in_place)
        elif args.command == "verify":
            result = jobs.verify()
        else:
            result = jobs.list()
    except RestoreRefused as exc:
        print(f"stackguard-backup: refused: {exc}", file=sys.stderr)
        return 2
    except (JobFailed, MariaDBError, StoreError, CatalogError, OSError) as exc:
        print(f"stackguard-backup: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, sort_keys=True, default=str))
    return 0


def store_main(argv=None, environ=None, stdin=None, stdout=None, clock=time.time):
    """stackguard-backup-store: the command comes from SSH_ORIGINAL_COMMAND (the forced command)
    or from the command line; the source and the retention policy never come from the caller."""
    import shlex

    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(prog="stackguard-backup-store")
    parser.add_argument("--config", default=STORE_CONFIG)
    parser.add_argument("--source", required=True)
    parser.add_argument("--now", help="prune as if it were this UTC time (tests)")
    parser.add_argument("words", nargs="*")
    args = parser.parse_args(argv)
    os.umask(0o077)
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    try:
        if "SSH_ORIGINAL_COMMAND" in environ:
            words = shlex.split(environ["SSH_ORIGINAL_COMMAND"])
        elif "SSH_CONNECTION" in environ:
            raise StoreError("an SSH session without a command: this key may only run store commands")
        else:
            words = args.words
        with open(args.config, encoding="utf-8") as handle:
            config = json.load(handle)
        from ansible.module_utils.backup_catalog import parse_time
        now = parse_time(args.now, "--now") if args.now else int(clock())
        store = Store(config["root"], args.source)
        answer = serve(words, store, config.get("retention") or {}, now, stdin, stdout)
    except (StoreError, CatalogError, BinlogError, OSError, ValueError, KeyError) as exc:
        sys.stderr.write(f"stackguard-backup-store: {exc}\n")
        return 1
    if answer is not None:
        stdout.write((json.dumps(answer, indent=2, sort_keys=True) + "\n").encode("utf-8"))
        stdout.flush()
    return 0
