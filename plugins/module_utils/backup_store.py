"""The backup store on the backup host, and the clients the database host reaches it with.

Layout, under ``<root>/<source>/`` (directories 0700, files 0600, owned by the backup user)::

    base/<id>/dump.sql.gz, base/<id>/manifest.json     a base backup; the manifest comes last
    binlogs/<key>, binlogs/<key>.json                  an archived binlog and its sidecar
    markers/<id>.json                                  a chain break (an in-place restore)

The database host reaches the store over SSH with a key whose authorized_keys entry forces
``stackguard-backup-store --source <db host>``: the client names a command, never a path or
another source. Commands (the same words from the command line, for the tests and the operator)::

    list                                   the catalog as JSON
    put-base <id> <file> <sha256> <size>   a base backup's file, on stdin
    put-binlog <name> <sha256> <size>      a closed binlog, on stdin
    put-marker <id> <sha256> <size>        a chain-break marker (JSON), on stdin
    get-base <id> <file>                   a base backup's file, on stdout
    get-binlog <key>                       an archived binlog, on stdout
    prune                                  apply the retention policy (the store's own, not the caller's)

Every file arrives in a private temporary file in its directory, is checked against the sha256 and
size it was announced with (a binlog is also parsed, a manifest validated against the dump it
names), fsynced, and only then renamed into place: a file under its final name is always whole
and verified. A name that exists is never overwritten: the same content again is accepted (a
retried upload), different content is refused. There is no delete command: only the retention
policy, configured on the backup host, removes backups.
"""
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import tempfile

from ansible.module_utils.backup_binlog import BinlogError, read_binlog, split_name
from ansible.module_utils.backup_catalog import (
    CatalogError, binlog_key, check_base_id, check_file_name, check_marker_id, check_source,
    iso, manifest_problems, normalize, split_binlog_key)
from ansible.module_utils.backup_retention import select
from ansible.module_utils.file_paths import make_dirs

CHUNK = 1024 * 1024
INCOMING = ".incoming-"


class StoreError(Exception):
    """A store operation that failed or was refused; the message says which and why."""


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_sha(text):
    if not isinstance(text, str) or len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise StoreError(f"{text!r} is not a sha256 (64 lowercase hex digits)")
    return text


def _check_size(text):
    try:
        size = int(text)
    except (TypeError, ValueError):
        size = -1
    if size < 0:
        raise StoreError(f"{text!r} is not a size in bytes")
    return size


class Store:
    """One source's backups under <root>/<source>, on the backup host."""

    def __init__(self, root, source):
        self.root = os.path.join(root, check_source(source))
        self.source = source

    def _dir(self, *parts):
        path = os.path.join(self.root, *parts)
        make_dirs(path, 0o700)
        return path

    # --- receiving ---------------------------------------------------------------------------

    def _receive(self, directory, stream, sha256, size):
        """Copy stream into a temporary file in directory; its path once sha256 and size match."""
        handle, temporary = tempfile.mkstemp(prefix=INCOMING, dir=directory)
        digest, received = hashlib.sha256(), 0
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in iter(lambda: stream.read(CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
                    received += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            if received != size or digest.hexdigest() != sha256:
                raise StoreError(
                    f"received {received} bytes with sha256 {digest.hexdigest()}, announced {size} bytes "
                    f"with sha256 {sha256}: the transfer was damaged; nothing was stored")
            return temporary
        except BaseException:
            _unlink(temporary)
            raise

    @staticmethod
    def _place(temporary, final):
        """Rename into place unless the name exists: same content is fine, other content refused."""
        if os.path.exists(final):
            same = sha256_file(final) == sha256_file(temporary)
            _unlink(temporary)
            if not same:
                raise StoreError(f"{final} exists with other content; a stored backup is never overwritten")
            return False
        os.chmod(temporary, 0o600)
        os.replace(temporary, final)
        _fsync_dir(os.path.dirname(final))
        return True

    def put_base(self, backup_id, name, sha256, size, stream):
        check_base_id(backup_id)
        check_file_name(name)
        directory = self._dir("base", backup_id)
        temporary = self._receive(directory, stream, _check_sha(sha256), _check_size(size))
        if name == "manifest.json":
            try:
                self._check_manifest(backup_id, directory, temporary)
            except BaseException:
                _unlink(temporary)
                raise
        stored = self._place(temporary, os.path.join(directory, name))
        return {"stored": stored, "id": backup_id, "file": name}

    @staticmethod
    def _check_manifest(backup_id, directory, path):
        try:
            with open(path, encoding="utf-8") as handle:
                manifest = json.load(handle)
        except ValueError as exc:
            raise StoreError(f"manifest of {backup_id} is not JSON: {exc}") from None
        problems = manifest_problems(manifest)
        if not problems and manifest["id"] != backup_id:
            problems.append(f"manifest id {manifest['id']!r} differs from {backup_id!r}")
        if problems:
            raise StoreError(f"manifest of {backup_id} refused: {'; '.join(problems)}")
        dump = os.path.join(directory, check_file_name(manifest["dump"]["file"]))
        if not os.path.exists(dump):
            raise StoreError(f"manifest of {backup_id} names {manifest['dump']['file']}, which was not "
                             f"received: send the dump first")
        if sha256_file(dump) != manifest["dump"]["sha256"]:
            raise StoreError(f"{backup_id}/{manifest['dump']['file']} does not match the manifest's sha256")

    def put_binlog(self, name, sha256, size, stream):
        split_name(name)
        directory = self._dir("binlogs")
        temporary = self._receive(directory, stream, _check_sha(sha256), _check_size(size))
        try:
            meta = read_binlog(temporary, name)
        except BinlogError as exc:
            _unlink(temporary)
            raise StoreError(f"{name} refused: {str(exc).replace(temporary, name)}") from None
        key = binlog_key(meta["started_at"], name)
        sidecar = os.path.join(directory, key + ".json")
        stored = self._place(temporary, os.path.join(directory, key))
        record = dict(meta, key=key, sha256=sha256, started_at=iso(meta["started_at"]),
                      last_event_at=iso(meta["last_event_at"]))
        if stored or not os.path.exists(sidecar):
            _write_json(sidecar, record)
        return {"stored": stored, **record}

    def put_marker(self, marker_id, sha256, size, stream):
        check_marker_id(marker_id)
        directory = self._dir("markers")
        temporary = self._receive(directory, stream, _check_sha(sha256), _check_size(size))
        try:
            with open(temporary, encoding="utf-8") as handle:
                marker = json.load(handle)
            if not isinstance(marker, dict) or marker.get("id") != marker_id:
                raise StoreError(f"marker {marker_id} refused: its id field must be {marker_id!r}")
        except ValueError as exc:
            _unlink(temporary)
            raise StoreError(f"marker {marker_id} is not JSON: {exc}") from None
        except BaseException:
            _unlink(temporary)
            raise
        return {"stored": self._place(temporary, os.path.join(directory, marker_id + ".json")), "id": marker_id}

    # --- reading -----------------------------------------------------------------------------

    def list(self):
        """{source, bases: [{id, manifest, files, problems}], binlogs: [sidecars], markers: [...]}."""
        bases, binlogs, markers = [], [], []
        base_root = os.path.join(self.root, "base")
        for backup_id in sorted(_entries(base_root)):
            try:
                check_base_id(backup_id)
            except CatalogError:
                continue
            directory = os.path.join(base_root, backup_id)
            files = {n: os.path.getsize(os.path.join(directory, n)) for n in _entries(directory)
                     if not n.startswith(INCOMING)}
            manifest, problems = None, []
            if "manifest.json" in files:
                try:
                    with open(os.path.join(directory, "manifest.json"), encoding="utf-8") as handle:
                        manifest = json.load(handle)
                except ValueError as exc:
                    problems.append(f"manifest.json is not JSON: {exc}")
            else:
                problems.append("no manifest.json (incomplete: the backup failed or is still arriving)")
            bases.append({"id": backup_id, "manifest": manifest, "files": files, "problems": problems})
        binlog_root = os.path.join(self.root, "binlogs")
        for name in sorted(_entries(binlog_root)):
            if not name.endswith(".json") or name.startswith(INCOMING):
                continue
            try:
                with open(os.path.join(binlog_root, name), encoding="utf-8") as handle:
                    meta = json.load(handle)
            except ValueError:
                continue
            if isinstance(meta, dict) and os.path.exists(os.path.join(binlog_root, name[:-5])):
                binlogs.append(meta)
        marker_root = os.path.join(self.root, "markers")
        for name in sorted(_entries(marker_root)):
            if name.endswith(".json") and not name.startswith(INCOMING):
                try:
                    with open(os.path.join(marker_root, name), encoding="utf-8") as handle:
                        markers.append(json.load(handle))
                except ValueError:
                    continue
        return {"source": self.source, "bases": bases, "binlogs": binlogs, "markers": markers}

    def open_base(self, backup_id, name):
        check_base_id(backup_id)
        return self._open(os.path.join(self.root, "base", backup_id, check_file_name(name)))

    def open_binlog(self, key):
        split_binlog_key(key)
        return self._open(os.path.join(self.root, "binlogs", key))

    @staticmethod
    def _open(path):
        try:
            return open(path, "rb")
        except FileNotFoundError:
            raise StoreError(f"{path} is not in the store") from None

    # --- retention ---------------------------------------------------------------------------

    def prune(self, policy, now, dry_run=False):
        """Apply the retention policy; what was (or would be) kept and deleted."""
        catalog = normalize(self.list())
        chosen = select(catalog, policy, now)
        if not dry_run:
            for backup_id in chosen["delete"]:
                shutil.rmtree(os.path.join(self.root, "base", backup_id), ignore_errors=False)
            for key in chosen["delete_binlogs"]:
                _unlink(os.path.join(self.root, "binlogs", key + ".json"))  # the sidecar first
                _unlink(os.path.join(self.root, "binlogs", key))
            for marker_id in chosen["delete_markers"]:
                _unlink(os.path.join(self.root, "markers", marker_id + ".json"))
            self._remove_stale_uploads(now, policy)
        return {"source": self.source, "dry_run": dry_run, **chosen}

    def _remove_stale_uploads(self, now, policy):
        """Temporary files of uploads that died, and binlogs that never got their sidecar."""
        grace = int((policy or {}).get("incomplete_grace_hours", 24)) * 3600
        for directory, _, names in os.walk(self.root):
            for name in names:
                path = os.path.join(directory, name)
                orphan = (os.path.basename(directory) == "binlogs" and not name.endswith(".json")
                          and not os.path.exists(path + ".json"))
                if (name.startswith(INCOMING) or orphan) and now - os.path.getmtime(path) > grace:
                    _unlink(path)


def _entries(directory):
    try:
        return os.listdir(directory)
    except FileNotFoundError:
        return []


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync_dir(directory):
    try:
        handle = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)
    except OSError:
        pass


def _write_json(path, data):
    directory = os.path.dirname(path)
    handle, temporary = tempfile.mkstemp(prefix=INCOMING, dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2, sort_keys=True)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
        _fsync_dir(directory)
    except BaseException:
        _unlink(temporary)
        raise


# --- the store's command line (the forced command on the backup host) ---------------------------

COMMANDS = {"list": 0, "put-base": 4, "put-binlog": 3, "put-marker": 3, "get-base": 2, "get-binlog": 1,
            "prune": 0}


def serve(words, store, policy, now, stdin, stdout):
    """Run one command; returns the JSON-able answer (get-* write the file to stdout instead)."""
    if not words or words[0] not in COMMANDS:
        raise StoreError(f"unknown command {' '.join(words)!r}; known: {', '.join(sorted(COMMANDS))}")
    command, args = words[0], words[1:]
    if len(args) != COMMANDS[command]:
        raise StoreError(f"{command} takes {COMMANDS[command]} argument(s), got {len(args)}")
    if command == "list":
        return store.list()
    if command == "put-base":
        return store.put_base(args[0], args[1], args[2], args[3], stdin)
    if command == "put-binlog":
        return store.put_binlog(args[0], args[1], args[2], stdin)
    if command == "put-marker":
        return store.put_marker(args[0], args[1], args[2], stdin)
    if command == "prune":
        return store.prune(policy, now)
    source = store.open_base(args[0], args[1]) if command == "get-base" else store.open_binlog(args[0])
    with source:
        shutil.copyfileobj(source, stdout, CHUNK)
    stdout.flush()
    return None


# --- the database host's side --------------------------------------------------------------------

class StoreClient:
    """Talks to a store by running its command: through ssh (type ssh) or directly (type command).

    `config` is the `store` part of /etc/stackguard/backup.json: {type: ssh, host, port, user,
    identity, known_hosts} or {type: command, argv: [...]} (the tests and benchmarks).
    """

    def __init__(self, config, run=subprocess.run):
        self.config, self.run = config, run
        kind = config.get("type")
        if kind == "ssh":
            self.prefix = [
                config.get("ssh", "ssh"), "-p", str(config.get("port", 22)), "-i", config["identity"],
                "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                "-o", f"UserKnownHostsFile={config['known_hosts']}", "-o", "IdentitiesOnly=yes",
                "-o", f"ConnectTimeout={int(config.get('connect_timeout', 10))}",
                "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4",
                f"{config['user']}@{config['host']}", "--"]
        elif kind == "command":
            self.prefix = list(config["argv"])
        else:
            raise StoreError(f"store type {kind!r} is not ssh or command")
        self.kind = kind

    def describe(self):
        if self.kind == "ssh":
            return f"{self.config['user']}@{self.config['host']}"
        return "the local store command"

    def _argv(self, words):
        if self.kind == "ssh":
            return self.prefix + [" ".join(shlex.quote(w) for w in words)]
        return self.prefix + list(words)

    def _call(self, words, stdin=None, stdout=subprocess.PIPE):
        proc = self.run(self._argv(words), stdin=stdin if stdin is not None else subprocess.DEVNULL,
                        stdout=stdout, stderr=subprocess.PIPE, check=False)
        if proc.returncode != 0:
            error = (proc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
            raise StoreError(f"backup store at {self.describe()}: {words[0]} failed (exit {proc.returncode}): "
                             f"{error[-1] if error else 'no message'}")
        return proc

    def _json(self, words, stdin=None):
        proc = self._call(words, stdin=stdin)
        try:
            return json.loads(proc.stdout.decode("utf-8"))
        except ValueError:
            raise StoreError(f"backup store at {self.describe()}: {words[0]} did not answer JSON") from None

    def list(self):
        return self._json(["list"])

    def put_base(self, backup_id, path, name=None):
        with open(path, "rb") as source:
            return self._json(["put-base", backup_id, name or os.path.basename(path), sha256_file(path),
                               str(os.path.getsize(path))], stdin=source)

    def put_binlog(self, path, name, sha256=None):
        with open(path, "rb") as source:
            return self._json(["put-binlog", name, sha256 or sha256_file(path), str(os.path.getsize(path))],
                              stdin=source)

    def put_marker(self, marker, directory):
        path = os.path.join(directory, marker["id"] + ".json")
        _write_json(path, marker)
        try:
            with open(path, "rb") as source:
                return self._json(["put-marker", marker["id"], sha256_file(path), str(os.path.getsize(path))],
                                  stdin=source)
        finally:
            _unlink(path)

    def prune(self):
        return self._json(["prune"])

    def fetch(self, words, destination):
        """A get-* command's output into destination (written whole, or removed)."""
        handle, temporary = tempfile.mkstemp(prefix=INCOMING, dir=os.path.dirname(destination))
        try:
            with os.fdopen(handle, "wb") as out:
                self._call(words, stdout=out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, destination)
        except BaseException:
            _unlink(temporary)
            raise
        return destination

    def get_base(self, backup_id, name, destination):
        return self.fetch(["get-base", backup_id, name], destination)

    def get_binlog(self, key, destination):
        return self.fetch(["get-binlog", key], destination)
