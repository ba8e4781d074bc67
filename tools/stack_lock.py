#!/usr/bin/env python3
"""Record each stack manifest's revision and sha256 in stacks/stacks.lock (`make stack-lock`).

A revision already in the lock is never rewritten: if its file changed, this refuses and says to
bump the revision. The lock is written atomically.
"""
import os
import sys
import tempfile

import ansible.module_utils
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ansible.module_utils.__path__.append(os.path.join(REPO, "plugins", "module_utils"))

from ansible.module_utils.stack_manifest import (  # noqa: E402
    ManifestError, digest, read_yaml, validate, validate_lock)


def update_lock(stacks_dir):
    lock_path = os.path.join(stacks_dir, "stacks.lock")
    lock = {}
    if os.path.exists(lock_path):
        lock = validate_lock(read_yaml(lock_path)[1], lock_path)
    added = []
    for filename in sorted(os.listdir(stacks_dir)):
        if not filename.endswith(".yml"):
            continue
        path = os.path.join(stacks_dir, filename)
        raw, manifest = read_yaml(path)
        validate(manifest, path)
        name, revision, actual = manifest["name"], manifest["revision"], digest(raw)
        recorded = lock.setdefault(name, {}).get(revision)
        if recorded is None:
            lock[name][revision] = actual
            added.append(f"{name}@{revision} {actual}")
        elif recorded != actual:
            raise ManifestError(
                f"{path}: {name} revision {revision} is released with {recorded}; the file now "
                f"has {actual}. Bump `revision` to record the change as a new revision.")
    if added:
        header = ("# Released stack revisions and the sha256 of their manifest files.\n"
                  "# Written by `make stack-lock`; a released revision never changes.\n")
        body = yaml.safe_dump({n: dict(sorted(r.items())) for n, r in sorted(lock.items())},
                              default_flow_style=False, sort_keys=False)
        fd, tmp = tempfile.mkstemp(dir=stacks_dir, prefix=".stacks.lock.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("---\n" + header + body)
        os.chmod(tmp, 0o644)
        os.replace(tmp, lock_path)
    return added


def main():
    stacks_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "stacks")
    try:
        added = update_lock(stacks_dir)
    except ManifestError as exc:
        print(f"stack-lock: {exc}", file=sys.stderr)
        return 1
    for line in added:
        print(f"stack-lock: recorded {line}")
    if not added:
        print("stack-lock: every revision is already recorded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
