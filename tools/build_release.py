#!/usr/bin/env python3
"""Build a release tarball of a PHP app: build/releases/<name>-<version>.tar.gz and its .sha256.

The tarball holds the app tree at its root plus release.json (version, schema_version, built_at).
It is reproducible: sorted entries, fixed owners and times (SOURCE_DATE_EPOCH, else the time of
the last commit that touched the source when it is a clean part of a git checkout, else the newest
file's mtime), so the same source gives the same sha256 in every clone.

usage: build_release.py [--source app] [--name stackguard-app] [--out build/releases] VERSION
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import time

SKIP_DIRS = {".git", "node_modules", "vendor-dev", "__pycache__"}
SKIP_FILES = {"app.ini"}  # configuration with secrets is written on the host, never shipped
GENERATED = {"release.json"}  # written by this build at the root; a stale copy is not shipped
VERSION = re.compile(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$")
MIGRATION = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def source_files(source):
    for root, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(files):
            if name in SKIP_FILES or (name in GENERATED and os.path.samefile(root, source)):
                continue
            path = os.path.join(root, name)
            yield path, os.path.relpath(path, source)


def schema_version(source):
    migrations = os.path.join(source, "migrations")
    numbers = [int(m.group(1)) for m in map(MIGRATION.match, sorted(os.listdir(migrations)))
               if m] if os.path.isdir(migrations) else []
    return max(numbers, default=0)


def commit_time(source):
    """The time of the last commit that touched ``source``, or None when it is not in a git
    checkout or has uncommitted changes (then the files' own times are the truth). A checkout's
    file times are when it was cloned, which would give every clone another sha256."""
    def git(*args):
        return subprocess.run(["git", "-C", source, *args], capture_output=True, text=True, check=False)
    try:
        status = git("status", "--porcelain", "--", ".")
        last = git("log", "-1", "--format=%ct", "--", ".")
    except OSError:
        return None  # no git on this machine
    if status.returncode or last.returncode or status.stdout.strip() or not last.stdout.strip():
        return None
    return int(last.stdout.strip())


def build(source, name, version, out_dir):
    if not VERSION.fullmatch(version):
        raise SystemExit(f"build-release: version '{version}' is not MAJOR.MINOR.PATCH[-suffix]")
    if not os.path.isfile(os.path.join(source, "composer.json")):
        raise SystemExit(f"build-release: {source}/composer.json is missing")
    files = list(source_files(source))
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or commit_time(source)
                or max((int(os.stat(p).st_mtime) for p, _ in files), default=0))
    metadata = {"version": version, "schema_version": schema_version(source),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))}

    def add(tar, arcname, data, mode):
        info = tarfile.TarInfo(arcname)
        info.size, info.mode, info.mtime = len(data), mode, epoch
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        tar.addfile(info, io.BytesIO(data))

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, arcname in files:
            with open(path, "rb") as handle:
                add(tar, arcname, handle.read(), 0o755 if os.access(path, os.X_OK) else 0o644)
        add(tar, "release.json", (json.dumps(metadata, indent=2) + "\n").encode(), 0o644)

    os.makedirs(out_dir, exist_ok=True)
    target = os.path.join(out_dir, f"{name}-{version}.tar.gz")
    compressed = io.BytesIO()
    with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    payload = compressed.getvalue()
    digest = hashlib.sha256(payload).hexdigest()
    for path, data in ((target, payload),
                       (target + ".sha256", f"{digest}  {os.path.basename(target)}\n".encode())):
        tmp = path + ".tmp"
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    return target, digest


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version")
    parser.add_argument("--source", default="app")
    parser.add_argument("--name", default="stackguard-app")
    parser.add_argument("--out", default=os.path.join("build", "releases"))
    args = parser.parse_args(argv)
    target, digest = build(args.source, args.name, args.version, args.out)
    print(f"build-release: {target} sha256:{digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
