"""What a web host has deployed and which release is known good, and pruning old releases.

The state file is JSON::

    {"current": "1.1.0", "last_known_good": "1.0.0",
     "releases": {"1.0.0": {"status": "good", "deployed_at": "...", "marked_at": "..."},
                  "1.1.0": {"status": "deployed", "deployed_at": "..."},
                  "0.9.0": {"status": "bad", "reason": "...", "marked_at": "..."}}}

Times are ISO 8601 UTC with microseconds. Transitions (``apply``) are pure functions of the state;
the file is only written when the state changes, atomically (a temporary file in the same
directory, then os.replace). ``prune`` deletes old release directories, never the one `current`
points at nor the last known good one, and nothing at all while `current` cannot be read; a
release it removes stays in the state with ``pruned_at``, and is no longer a fallback for
last_known_good.
"""
import copy
import datetime
import json
import os
import shutil

from ansible.module_utils.file_paths import is_release_name, make_dirs, write_atomically

ACTIONS = ("query", "deployed", "good", "bad", "prune")
PARTIAL = ".partial"


class StateError(Exception):
    pass


class NoCurrent(StateError):
    """<root>/current does not exist (nothing was switched to yet)."""


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def iso(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def empty():
    return {"current": None, "last_known_good": None, "releases": {}}


def check_version_name(version):
    if not is_release_name(version):
        raise StateError(f"version {version!r} is not a release name")


def load(path):
    """(state, exists); StateError naming the path when the file is not a state file."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return empty(), False
    except OSError as exc:
        raise StateError(f"cannot read the release state file {path}: {exc}") from None
    try:
        state = json.loads(text)
    except ValueError as exc:
        raise StateError(f"release state file {path} is not valid JSON ({exc}); fix it or move "
                         f"it aside") from None
    if not isinstance(state, dict):
        raise StateError(f"release state file {path} is not a JSON object; fix it or move it aside")
    releases = state.setdefault("releases", {})
    if not isinstance(releases, dict) or not all(isinstance(e, dict) for e in releases.values()):
        raise StateError(f"release state file {path}: 'releases' must map each version to an "
                         f"object; fix it or move it aside")
    for key in ("current", "last_known_good"):
        state.setdefault(key, None)
        if state[key] is not None and not isinstance(state[key], str):
            raise StateError(f"release state file {path}: '{key}' must be a version or null")
    return state, True



def save(path, state):
    directory = os.path.dirname(path) or "."
    make_dirs(directory)
    write_atomically(path, json.dumps(state, indent=2, sort_keys=True) + "\n", 0o644, fsync=True)


def _age(version, entry):
    return (entry.get("deployed_at") or "", entry.get("marked_at") or "", version)


def newest_good(state, besides=None):
    """The most recently deployed good release still on disk, other than `besides`."""
    good = [(_age(v, e), v) for v, e in state["releases"].items()
            if e.get("status") == "good" and v != besides and not e.get("pruned_at")]
    return max(good)[1] if good else None


def apply(state, action, version, reason=None, now=None):
    """The state after a deployed/good/bad transition (a new dict; the input is left as is)."""
    check_version_name(version)
    stamp = iso(now or utcnow())
    new = copy.deepcopy(state)
    releases = new["releases"]
    entry = dict(releases.get(version) or {})
    if action == "deployed":
        if (new["current"] == version and entry.get("status") in ("deployed", "good")
                and not entry.get("pruned_at")):
            return new
        if entry.get("status") != "good":  # a release once good stays good when redeployed
            entry["status"] = "deployed"
            entry.pop("reason", None)
            entry.pop("marked_at", None)
        entry["deployed_at"] = stamp
        entry.pop("pruned_at", None)
        new["current"] = version
    elif action == "good":
        if (entry.get("status") == "good" and new["last_known_good"] == version
                and new["current"] == version):
            return new
        entry.setdefault("deployed_at", stamp)
        entry.update(status="good", marked_at=stamp)
        entry.pop("reason", None)
        new["current"] = new["last_known_good"] = version
    elif action == "bad":
        if not reason:
            raise StateError("action=bad needs a reason")
        if entry.get("status") == "bad" and entry.get("reason") == reason:
            return new
        entry.update(status="bad", reason=reason, marked_at=stamp)
        if new["last_known_good"] == version:
            releases[version] = entry
            new["last_known_good"] = newest_good(new, besides=version)
    else:
        raise StateError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    releases[version] = entry
    return new


def current_release(root):
    """The release name <root>/current points at; StateError when that cannot be told."""
    link = os.path.join(root, "current")
    try:
        target = os.readlink(link)
    except FileNotFoundError as exc:
        raise NoCurrent(f"cannot read {link} ({exc.strerror}); pruning nothing") from None
    except OSError as exc:
        raise StateError(f"cannot read {link} ({exc.strerror or exc}); pruning nothing") from None
    full = os.path.normpath(os.path.join(root, target))
    if os.path.dirname(full) != os.path.normpath(os.path.join(root, "releases")):
        raise StateError(f"{link} points at {target}, not at a directory in "
                         f"{os.path.join(root, 'releases')}; pruning nothing")
    return os.path.basename(full)


def prune_plan(root, state, keep):
    """(release directories to remove, oldest first; *.partial leftovers); protects current/LKG."""
    if keep < 0:
        raise StateError(f"keep must be 0 or more, not {keep}")
    if not root:
        raise StateError("action=prune needs root")
    protected = {current_release(root), state.get("current"), state.get("last_known_good")}
    directory = os.path.join(root, "releases")
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return [], []
    partials = sorted(n for n in names if n.endswith(PARTIAL)
                      and not os.path.islink(os.path.join(directory, n)))
    releases = []
    for name in names:
        full = os.path.join(directory, name)
        if name.endswith(PARTIAL) or os.path.islink(full) or not os.path.isdir(full):
            continue
        entry = state["releases"].get(name) or {}
        if entry.get("deployed_at"):
            key = (1, entry["deployed_at"], name)
        else:  # not deployed as far as the state knows: older than any that was
            key = (0, os.stat(full).st_mtime, name)
        releases.append((key, name))
    newest_first = [name for _, name in sorted(releases, reverse=True)]
    remove = [n for n in newest_first[keep:] if n not in protected]
    return list(reversed(remove)), partials


def _remove_tree(path):
    if os.path.islink(path) or not os.path.isdir(path):
        os.unlink(path)
    else:
        shutil.rmtree(path)


def prune(root, state, keep, check_mode=False, now=None):
    """(removed names, new state); a release is renamed to <v>.partial first, then deleted, so an
    interrupted prune never leaves a release directory that looks complete but is not."""
    old, partials = prune_plan(root, state, keep)
    new = copy.deepcopy(state)
    stamp = iso(now or utcnow())
    for name in old:
        if name in new["releases"]:
            new["releases"][name]["pruned_at"] = stamp
    if check_mode:
        return old + partials, new
    directory = os.path.join(root, "releases")
    for name in partials:
        _remove_tree(os.path.join(directory, name))
    for name in old:
        doomed = os.path.join(directory, name + PARTIAL)
        if os.path.lexists(doomed):
            _remove_tree(doomed)
        os.rename(os.path.join(directory, name), doomed)
        _remove_tree(doomed)
    return old + partials, new


def run(path, action, version=None, reason=None, root=None, keep=5, check_mode=False, now=None):
    """The module's whole job: the result dict, or StateError."""
    if action not in ACTIONS:
        raise StateError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    state, exists = load(path)
    removed = []
    if action == "query":
        return dict(changed=False, state=state, exists=exists, removed=removed)
    if action == "prune":
        try:
            removed, new = prune(root, state, keep, check_mode, now)
        except NoCurrent as exc:
            if not check_mode:
                raise
            # in check mode on a new host the switch before this did not happen either
            return dict(changed=False, state=state, exists=exists, removed=[], msg=str(exc))
    else:
        if version is None:
            raise StateError(f"action={action} needs version")
        new = apply(state, action, version, reason, now)
        if action == "good" and root is not None:
            # A deploy's last step: the release is good, then the oldest releases go, in one call.
            if not check_mode:
                save(path, new)
            try:
                removed, new = prune(root, new, keep, check_mode, now)
            except NoCurrent:
                if not check_mode:
                    raise  # in check mode on a new host the switch before this did not happen
    changed = bool(removed) or new != state
    if new != state and not check_mode:  # (saved once more after a prune: same content or newer)
        save(path, new)
        exists = True
    return dict(changed=changed, state=new, exists=exists, removed=removed)
