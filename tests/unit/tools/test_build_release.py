"""tools/build_release.py: the release tarball built from app/ (read only) into tmp_path."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
APP = REPO / "app"
SCRIPT = REPO / "tools" / "build_release.py"

_spec = importlib.util.spec_from_file_location("build_release", SCRIPT)
build_release = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_release)


def highest_migration(source):
    return max((int(p.name[:4]) for p in (Path(source) / "migrations").glob("[0-9][0-9][0-9][0-9]_*.sql")),
               default=0)


def members(tarball):
    with tarfile.open(tarball) as tar:
        return tar.getmembers()


def read_member(tarball, name):
    with tarfile.open(tarball) as tar:
        return tar.extractfile(name).read()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    target, digest = build_release.build(str(APP), "stackguard-app", "1.0.0", str(out))
    return Path(target), digest


def test_the_tarball_is_named_after_the_release(built, tmp_path_factory):
    target, digest = built
    assert target.name == "stackguard-app-1.0.0.tar.gz"
    assert re.fullmatch(r"[0-9a-f]{64}", digest)


def test_the_tarball_holds_the_app_tree_at_its_root(built):
    names = [m.name for m in members(built[0])]
    for expected in ("composer.json", "public/index.php", "release.json"):
        assert expected in names
    migrations = sorted(p.name for p in (APP / "migrations").glob("*.sql"))
    assert migrations and all(f"migrations/{name}" in names for name in migrations)
    assert read_member(built[0], "composer.json") == (APP / "composer.json").read_bytes()
    assert len(names) == len(set(names))
    assert not any(name.startswith(("/", "./", "app/")) or ".." in name.split("/") for name in names)


def test_every_app_file_is_shipped_with_its_content(built):
    with tarfile.open(built[0]) as tar:
        shipped = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    sources = {str(p.relative_to(APP)): p.read_bytes() for p in APP.rglob("*")
               if p.is_file() and p.name != "app.ini"}
    assert {n: c for n, c in shipped.items() if n != "release.json"} == sources


def test_release_json_holds_version_and_schema_version(built):
    metadata = json.loads(read_member(built[0], "release.json"))
    assert metadata["version"] == "1.0.0"
    assert metadata["schema_version"] == highest_migration(APP) > 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", metadata["built_at"])
    assert set(metadata) == {"version", "schema_version", "built_at"}


def test_entries_have_fixed_owner_and_time(built):
    entries = members(built[0])
    assert {(m.uid, m.gid, m.uname, m.gname) for m in entries} == {(0, 0, "root", "root")}
    assert len({m.mtime for m in entries}) == 1
    assert {m.mode for m in entries} <= {0o644, 0o755}


def test_the_sha256_file_matches_and_sha256sum_agrees(built):
    target, digest = built
    assert hashlib.sha256(target.read_bytes()).hexdigest() == digest
    sidecar = Path(str(target) + ".sha256")
    assert sidecar.read_text() == f"{digest}  {target.name}\n"
    check = subprocess.run(["sha256sum", "--check", sidecar.name], cwd=target.parent,
                           capture_output=True, text=True)
    assert check.returncode == 0 and f"{target.name}: OK" in check.stdout
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name, sidecar.name]  # no .tmp left


def test_two_builds_are_byte_identical(built, tmp_path):
    target, digest = built
    again, digest_again = build_release.build(str(APP), "stackguard-app", "1.0.0", str(tmp_path))
    assert digest_again == digest
    assert Path(again).read_bytes() == target.read_bytes()
    assert Path(again + ".sha256").read_text() == Path(str(target) + ".sha256").read_text()


def test_source_date_epoch_fixes_the_time_whatever_the_file_times(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    one, two = tmp_path / "one", tmp_path / "two"
    shutil.copytree(APP, one)
    shutil.copytree(APP, two)
    for path in two.rglob("*"):
        os.utime(path, (1800000000, 1800000000))
    a, digest_a = build_release.build(str(one), "stackguard-app", "1.0.0", str(tmp_path / "a"))
    b, digest_b = build_release.build(str(two), "stackguard-app", "1.0.0", str(tmp_path / "b"))
    assert digest_a == digest_b
    assert json.loads(read_member(a, "release.json"))["built_at"] == "2023-11-14T22:13:20Z"
    assert {m.mtime for m in members(a)} == {1700000000}


def test_without_source_date_epoch_the_time_is_the_newest_file(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    source = tmp_path / "src"
    shutil.copytree(APP, source)
    for path in source.rglob("*"):
        os.utime(path, (1600000000, 1600000000))
    os.utime(source / "composer.json", (1650000000, 1650000000))
    target, _ = build_release.build(str(source), "stackguard-app", "1.0.0", str(tmp_path / "out"))
    assert {m.mtime for m in members(target)} == {1650000000}


def _git(cwd, *args):
    subprocess.run(["git", "-C", str(cwd), "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
                   check=True, capture_output=True)


def test_two_clones_build_the_same_sha256_whatever_their_file_times(tmp_path, monkeypatch):
    """In a clean git checkout the time is the last commit's: a clone's files are as new as the
    clone, and the pipeline's build must match the one a developer pinned."""
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    origin = tmp_path / "origin"
    shutil.copytree(APP, origin / "app")
    _git(origin, "init", "-q")
    _git(origin, "add", "-A")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "1600000000 +0000")
    _git(origin, "commit", "-q", "-m", "app")
    digests = set()
    for name, when in (("one", 1700000000), ("two", 1800000000)):
        subprocess.run(["git", "clone", "-q", str(origin), str(tmp_path / name)], check=True)
        for path in (tmp_path / name / "app").rglob("*"):
            os.utime(path, (when, when))
        target, digest = build_release.build(str(tmp_path / name / "app"), "stackguard-app", "1.0.0",
                                             str(tmp_path / f"out-{name}"))
        assert {m.mtime for m in members(target)} == {1600000000}
        digests.add(digest)
    assert len(digests) == 1
    # An uncommitted change is not the commit: the files' own times again.
    (tmp_path / "two" / "app" / "composer.json").write_text("{}")
    os.utime(tmp_path / "two" / "app" / "composer.json", (1900000000, 1900000000))
    target, _ = build_release.build(str(tmp_path / "two" / "app"), "stackguard-app", "1.0.0",
                                    str(tmp_path / "out-dirty"))
    assert {m.mtime for m in members(target)} == {1900000000}


def test_app_ini_with_secrets_is_never_shipped(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(APP, source)
    (source / "config" / "app.ini").write_text("[database]\npassword = hunter2\n")
    target, _ = build_release.build(str(source), "stackguard-app", "1.0.0", str(tmp_path / "out"))
    names = [m.name for m in members(target)]
    assert "config/app.ini" not in names
    assert not any(name.endswith("/app.ini") or name == "app.ini" for name in names)
    assert "config/app.ini.example" in names
    with tarfile.open(target) as tar:
        assert not any(b"hunter2" in tar.extractfile(m).read() for m in tar.getmembers())


def test_schema_version_is_the_highest_migration_number(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(APP, source)
    (source / "migrations" / "0007_add_index.sql").write_text("CREATE INDEX i ON users (created_at);\n")
    (source / "migrations" / "9999_notes.txt").write_text("not a migration\n")
    target, _ = build_release.build(str(source), "stackguard-app", "1.1.0", str(tmp_path / "out"))
    assert json.loads(read_member(target, "release.json"))["schema_version"] == 7


def test_a_release_without_migrations_has_schema_version_zero(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "composer.json").write_text("{}\n")
    target, _ = build_release.build(str(source), "x", "0.1.0", str(tmp_path / "out"))
    assert json.loads(read_member(target, "release.json"))["schema_version"] == 0
    assert [m.name for m in members(target)] == ["composer.json", "release.json"]


@pytest.mark.parametrize("version", ["1.0.0-rc.1", "2.10.3", "1.0.0+build.5", "0.0.1"])
def test_semantic_versions_are_accepted(tmp_path, version):
    target, _ = build_release.build(str(APP), "stackguard-app", version, str(tmp_path))
    assert Path(target).name == f"stackguard-app-{version}.tar.gz"


@pytest.mark.parametrize("version", [
    "1.0", "v1.0.0", "1.0.0.0", "", "1.0.0-", "1.0.0/../../x", "1.0.0 beta", "latest", "1.0.x",
    "1.0.0\n",
])
def test_an_invalid_version_is_refused_and_nothing_is_written(tmp_path, version):
    with pytest.raises(SystemExit) as raised:
        build_release.build(str(APP), "stackguard-app", version, str(tmp_path / "out"))
    assert str(raised.value) == f"build-release: version '{version}' is not MAJOR.MINOR.PATCH[-suffix]"
    assert not (tmp_path / "out").exists()


def test_a_source_without_composer_json_is_refused(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(APP, source)
    (source / "composer.json").unlink()
    with pytest.raises(SystemExit) as raised:
        build_release.build(str(source), "stackguard-app", "1.0.0", str(tmp_path / "out"))
    assert str(raised.value) == f"build-release: {source}/composer.json is missing"
    assert not (tmp_path / "out").exists()


def test_a_missing_source_is_refused(tmp_path):
    with pytest.raises(SystemExit, match=r"^build-release: .*/nowhere/composer.json is missing$"):
        build_release.build(str(tmp_path / "nowhere"), "stackguard-app", "1.0.0", str(tmp_path / "out"))


def test_a_stale_release_json_in_the_source_is_not_shipped(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(APP, source)
    (source / "release.json").write_text('{"version": "0.9.0", "schema_version": 1}\n')
    target, _ = build_release.build(str(source), "stackguard-app", "1.0.0", str(tmp_path / "out"))
    assert [m.name for m in members(target)].count("release.json") == 1


def test_the_command_line(tmp_path, built):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--source", str(APP), "--out", str(tmp_path), "1.0.0"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    target = tmp_path / "stackguard-app-1.0.0.tar.gz"
    assert proc.stdout == f"build-release: {target} sha256:{built[1]}\n"


def test_the_command_line_refuses_a_bad_version(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--source", str(APP), "--out", str(tmp_path), "one"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr == "build-release: version 'one' is not MAJOR.MINOR.PATCH[-suffix]\n"
    assert list(tmp_path.iterdir()) == []
