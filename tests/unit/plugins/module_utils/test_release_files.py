"""release_files: one set of migration rules for an unpacked release and for its tarball."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from ansible.module_utils.release_files import (
    ReleaseFileError, directory_migrations, parse_migrations, tarball_contents)


def tarball(path, files):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(path)


def test_tarball_and_directory_read_the_same(tmp_path):
    files = {"release.json": json.dumps({"version": "1.0.0", "smoke_urls": ["/"]}).encode(),
             "migrations/0002_b.sql": b"CREATE TABLE b (id INT);",
             "migrations/0001_a.sql": "CREATE TABLE a (name VARCHAR(9) DEFAULT 'é');".encode()}
    metadata, from_tar = tarball_contents(tarball(tmp_path / "r.tar.gz", files))
    for name, data in files.items():
        (tmp_path / "dir" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "dir" / name).write_bytes(data)
    assert metadata == {"version": "1.0.0", "smoke_urls": ["/"]}
    assert from_tar == directory_migrations(str(tmp_path / "dir"))
    assert [m["version"] for m in from_tar] == [1, 2] and "é" in from_tar[0]["sql"]


def test_a_release_without_metadata_or_migrations(tmp_path):
    assert tarball_contents(tarball(tmp_path / "r.tar.gz", {"composer.json": b"{}"})) == (None, [])
    assert directory_migrations(str(tmp_path)) == []


@pytest.mark.parametrize("files, error", [
    ([("1_a.sql", b"")], "must be NNNN_lower_case_name.sql"),
    ([("0000_a.sql", b"")], "numbered from 0001"),
    ([("0001_a.sql", b""), ("0001_b.sql", b"")], "0001_a.sql and 0001_b.sql have the same number 1"),
    ([("0001_a.sql", b"\xff")], "not UTF-8 text"),
])
def test_bad_migration_files_are_named(files, error):
    with pytest.raises(ReleaseFileError, match=error):
        parse_migrations(files, "release/migrations")


def test_not_a_tarball(tmp_path):
    (tmp_path / "r.tar.gz").write_bytes(b"not gzip")
    with pytest.raises(ReleaseFileError, match="is not a readable release tarball"):
        tarball_contents(str(tmp_path / "r.tar.gz"))
