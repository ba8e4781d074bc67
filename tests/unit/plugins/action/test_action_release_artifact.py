"""The release_artifact action through real Ansible: local builds, pinned digests, and a download
from a real local HTTP server."""

from __future__ import annotations

import hashlib
import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.unit.ansible_adhoc import ANSIBLE, ansible
from tests.unit.plugins.module_utils.test_release_files import tarball

pytestmark = pytest.mark.skipif(not ANSIBLE.exists(), reason="ansible is not installed next to this Python")


@pytest.fixture
def artifact(tmp_path):
    path = tarball(tmp_path / "stackguard-app-1.0.0.tar.gz", {
        "release.json": json.dumps({"version": "1.0.0"}).encode(),
        "migrations/0001_create_users.sql": b"CREATE TABLE users (id INT);"})
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    return path, digest


def run(tmp_path, artifact, sha256=""):
    return ansible("release_artifact", {"version": "1.0.0", "artifact": artifact, "sha256": sha256,
                                        "cache_dir": str(tmp_path / "cache")})


def test_a_local_build_with_its_sha256_file(tmp_path, artifact):
    path, digest = artifact
    with open(path + ".sha256", "w") as handle:
        handle.write(f"{digest}  stackguard-app-1.0.0.tar.gz\n")
    rc, result = run(tmp_path, path)
    assert rc == 0, result.get("msg")
    assert (result["path"], result["sha256"], result["metadata"]) == (path, digest, {"version": "1.0.0"})
    assert result["migrations"] == [{"version": 1, "name": "0001_create_users.sql",
                                     "sql": "CREATE TABLE users (id INT);"}]
    assert result["changed"] is False


def test_an_artifact_that_is_not_the_pinned_one_is_refused(tmp_path, artifact):
    path, digest = artifact
    rc, result = run(tmp_path, path, "0" * 64)
    assert rc != 0
    assert f"has sha256 {digest}, expected {'0' * 64}" in result["msg"]
    assert "Refusing to deploy an artifact that is not the one pinned" in result["msg"]


def test_a_missing_artifact_says_how_to_build_it(tmp_path):
    rc, result = run(tmp_path, str(tmp_path / "nowhere.tar.gz"))
    assert rc != 0 and "make release" in result["msg"]


def test_an_unpinned_local_file_without_its_sha256_file_is_refused(tmp_path, artifact):
    rc, result = run(tmp_path, artifact[0])
    assert rc != 0 and "no sha256 pinned" in result["msg"]


def test_a_url_is_downloaded_verified_and_kept(tmp_path, artifact):
    path, digest = artifact
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/stackguard-app-1.0.0.tar.gz"
    try:
        rc, unpinned = run(tmp_path, url)
        assert rc != 0 and "no sha256 is pinned" in unpinned["msg"]
        rc, result = run(tmp_path, url, digest)
        assert rc == 0, result.get("msg")
        assert result["path"] == str(tmp_path / "cache" / "stackguard-app-1.0.0.tar.gz")
        assert hashlib.sha256(open(result["path"], "rb").read()).hexdigest() == digest
        rc, wrong = run(tmp_path, url, "1" * 64)
        assert rc != 0 and "not the one pinned" in wrong["msg"]
    finally:
        server.shutdown()
        server.server_close()
