"""The deploy lock: one JSON file per host saying which ansible-playbook run is deploying.

A lock is ``{owner, run_id, controller_host, controller_pid, acquired_at, expires_at}`` (times in
ISO 8601 UTC). Acquiring writes the content to a private temporary file (O_CREAT|O_EXCL) in the
lock's directory and os.link()s it to the lock's name: link(2) fails when the name exists, so of
two acquirers exactly one wins, and the lock file is never seen half written. Reading, deciding
and writing also happen under an flock on the lock's directory, so a takeover (expired or forced,
an os.replace) cannot race another acquirer either.
"""
import datetime
import fcntl
import json
import os

from ansible.module_utils.file_paths import make_dirs

FORCE_HINT = "rerun with -e force_unlock=true if that run is dead"


class LockError(Exception):
    """A refusal; ``result`` holds the module's return values (``holder``)."""

    def __init__(self, msg, **result):
        super().__init__(msg)
        self.result = result


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def iso(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text):
    """An ISO 8601 time (Z or an offset) as an aware datetime; None when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def read_lock(path):
    """The holder: the lock's content, a corrupt marker holder, or None when there is no lock."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read(65536)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise LockError(f"{path} is a directory, not a deploy lock; remove it by hand") from None
    except OSError as exc:
        raise LockError(f"cannot read the deploy lock {path}: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return {"owner": "unknown", "corrupt": True, "content": text[:500]}
    return data


def is_expired(holder, now):
    """Only a readable expires_at in the past expires a lock; anything else holds."""
    if holder.get("corrupt"):
        return False
    expires = parse_iso(holder.get("expires_at"))
    return expires is not None and expires <= now


def held_message(path, holder):
    if holder.get("corrupt"):
        return (f"deploy lock {path} is corrupt (not a JSON object), so it is held by unknown; "
                f"wait, or rerun with -e force_unlock=true if no deploy is running")
    return (f"deploy lock held by {holder.get('owner')} (run {holder.get('run_id')}, from "
            f"{holder.get('controller_host')} pid {holder.get('controller_pid')}) since "
            f"{holder.get('acquired_at')}, until {holder.get('expires_at')}; wait, or {FORCE_HINT}")


def new_lock(owner, run_id, controller_host, controller_pid, ttl, now):
    return {"owner": owner, "run_id": run_id, "controller_host": controller_host,
            "controller_pid": controller_pid, "acquired_at": iso(now),
            "expires_at": iso(now + datetime.timedelta(seconds=ttl))}


class _DirectoryLock:
    """flock on the lock's directory: one lock operation at a time on this host."""

    def __init__(self, directory):
        self.directory, self.fd = directory, None

    def __enter__(self):
        self.fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)  # closing releases the flock



def _temp_with(path, content):
    """Write content to a new private file beside path; its name."""
    directory, base = os.path.split(path)
    for attempt in range(100):
        temp = os.path.join(directory, f".{base}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        try:
            os.fchmod(fd, 0o644)
            os.write(fd, content.encode("utf-8"))
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(temp)
            raise
        os.close(fd)
        return temp
    raise LockError(f"cannot create a temporary file beside {path}")


def write_lock(path, lock, replace=False):
    """Put lock at path: exclusively (False when another lock got there first), or replacing."""
    temp = _temp_with(path, json.dumps(lock, indent=2, sort_keys=True) + "\n")
    try:
        if replace:
            os.replace(temp, path)
            temp = None
            return True
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
        return True
    finally:
        if temp is not None:
            os.unlink(temp)


def remove_lock(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _same_run(holder, run_id):
    return not holder.get("corrupt") and run_id is not None and holder.get("run_id") == run_id


def _dead_run_here(holder, controller_host, live_runs):
    """A lock taken on this controller by a run that no longer runs there (live_runs: the run ids
    of the ansible-playbook processes running on it now; None: unknown, never dead)."""
    return (live_runs is not None and controller_host is not None and not holder.get("corrupt")
            and holder.get("controller_host") == controller_host
            and holder.get("run_id") not in live_runs)


def acquire(path, owner, run_id, controller_host=None, controller_pid=None, ttl=1800,
            force=False, check_mode=False, now=None, live_runs=None):
    """state=present: the module's result dict, or LockError when another run holds it.

    A lock whose run died on this same controller (not in `live_runs`) is taken over, so a killed
    run's lock never blocks the next run from the same place; another controller's lock waits for
    its expiry or `force`."""
    if not owner or not run_id:
        raise LockError("state=present needs owner and run_id")
    if ttl < 1:
        raise LockError(f"ttl must be at least 1 second, not {ttl}")
    now = now or utcnow()
    lock = new_lock(owner, run_id, controller_host, controller_pid, ttl, now)
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        if check_mode:
            return dict(changed=True, holder=lock, took_over=None)
        make_dirs(directory)
    with _DirectoryLock(directory):
        holder = read_lock(path)
        if holder is None:
            if not check_mode and not write_lock(path, lock):
                # Only a writer that skips the directory flock can get here; it won.
                holder = read_lock(path) or {}
                raise LockError(held_message(path, holder), holder=holder, took_over=None)
            return dict(changed=True, holder=lock, took_over=None)
        if _same_run(holder, run_id):
            return dict(changed=False, holder=holder, took_over=None)
        if is_expired(holder, now):
            took_over = "expired"
        elif _dead_run_here(holder, controller_host, live_runs):
            took_over = "dead"
        elif force:
            took_over = "forced"
        else:
            raise LockError(held_message(path, holder), holder=holder, took_over=None)
        if not check_mode:
            write_lock(path, lock, replace=True)
        return dict(changed=True, holder=lock, took_over=took_over, previous_holder=holder)


def release(path, run_id=None, force=False, check_mode=False):
    """state=absent: remove our lock (any lock with force); refuse another run's."""
    if not run_id and not force:
        raise LockError("state=absent needs run_id (or force=true)")
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        return dict(changed=False, holder=None, took_over=None)
    with _DirectoryLock(directory):
        holder = read_lock(path)
        if holder is None:
            return dict(changed=False, holder=None, took_over=None)
        took_over = None
        if not _same_run(holder, run_id):
            if not force:
                raise LockError(f"{held_message(path, holder).split('; wait')[0]}; not releasing "
                                f"another run's lock (force=true removes it)", holder=holder,
                                took_over=None)
            took_over = "forced"
        if not check_mode:
            remove_lock(path)
        return dict(changed=True, holder=None, took_over=took_over, previous_holder=holder)


def query(path, now=None):
    holder = read_lock(path)
    expired = None if holder is None else is_expired(holder, now or utcnow())
    return dict(changed=False, holder=holder, took_over=None, expired=expired)
