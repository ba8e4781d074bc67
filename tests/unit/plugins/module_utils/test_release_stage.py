"""release_stage: the reference app built by tools/build_release.py, staged for real, linted by the
real `php -l` of this machine (skipped where there is no PHP), as root (it sets owners)."""

from __future__ import annotations

import grp
import hashlib
import importlib.util
import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from ansible.module_utils.release_stage import StageError, lint, stage, staged_sha256
from tests.unit.plugins.module_utils.test_release_compat import facts

REPO = Path(__file__).resolve().parents[4]
PHP = shutil.which("php")
GROUP = "www-data" if any(g.gr_name == "www-data" for g in grp.getgrall()) else grp.getgrgid(0).gr_name

pytestmark = [pytest.mark.skipif(PHP is None, reason="no php on this machine"),
              pytest.mark.skipif(os.geteuid() != 0, reason="staging sets owners: run as root")]


def builder():
    spec = importlib.util.spec_from_file_location("build_release", REPO / "tools" / "build_release.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def release(tmp_path, version, files=None, php="^7.4"):
    source = tmp_path / f"src-{version}"
    shutil.copytree(REPO / "app", source)
    composer = (source / "composer.json").read_text().replace('"php": "^7.4 || ^8.2"', f'"php": "{php}"')
    (source / "composer.json").write_text(composer)
    for name, text in (files or {}).items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    artifact, digest = builder().build(str(source), "stackguard-app", version, str(tmp_path / "out"))
    return artifact, digest


def run(argv):
    proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
    return proc.returncode, proc.stdout, proc.stderr


def do_stage(root, version, artifact, digest, check_mode=False, config="[app]\nkey = \"s3cret\"\n",
             php_version=None):
    php_version = php_version or run([PHP, "-r", "echo PHP_VERSION;"])[1]
    return stage(str(root), version, artifact, digest, run, PHP,
                 facts(php=php_version, extensions=None), "web1", config, GROUP,
                 ("config/app.ini", "uploads"), check_mode)


def test_a_release_is_staged_whole_with_its_shared_paths_and_marker(tmp_path):
    artifact, digest = release(tmp_path, "1.0.0", php="*")
    root = tmp_path / "app"
    result = do_stage(root, "1.0.0", artifact, digest)
    assert result["changed"] and result["staged"] and result["lint_errors"] == []
    staged = root / "releases" / "1.0.0"
    assert (staged / "public" / "index.php").is_file()
    assert staged_sha256(str(staged)) == digest
    assert os.readlink(staged / "config" / "app.ini") == str(root / "shared" / "config" / "app.ini")
    assert os.readlink(staged / "uploads") == str(root / "shared" / "uploads")
    config = root / "shared" / "config" / "app.ini"
    assert config.read_text() == "[app]\nkey = \"s3cret\"\n"
    assert oct(config.stat().st_mode & 0o777) == "0o640" and config.stat().st_gid == grp.getgrnam(GROUP).gr_gid
    assert not (root / "releases" / "1.0.0.partial").exists()
    assert not (root / "current").exists()  # staging never touches what is live
    # Again: nothing to do.
    assert do_stage(root, "1.0.0", artifact, digest)["changed"] is False


def test_a_version_staged_from_another_artifact_is_refused(tmp_path):
    artifact, digest = release(tmp_path, "1.0.0", php="*")
    root = tmp_path / "app"
    do_stage(root, "1.0.0", artifact, digest)
    other, other_digest = release(tmp_path / "b", "1.0.0", php="*", files={"public/extra.txt": "x"})
    with pytest.raises(StageError, match="already on web1 from another artifact.*immutable"):
        do_stage(root, "1.0.0", other, other_digest)
    assert staged_sha256(str(root / "releases" / "1.0.0")) == digest


def test_a_syntax_error_is_refused_and_leaves_nothing(tmp_path):
    broken = "<?php\nfunction f( { }\n"
    artifact, digest = release(tmp_path, "1.2.0", php="*", files={"src/Broken.php": broken})
    root = tmp_path / "app"
    with pytest.raises(StageError, match=r"release 1.2.0 does not parse with this host's PHP \(web1\): "
                                         r"src/Broken.php: .*syntax error") as raised:
        do_stage(root, "1.2.0", artifact, digest)
    assert raised.value.result["lint_errors"][0].startswith("src/Broken.php: ")
    assert sorted(p.name for p in (root / "releases").iterdir()) == []


def test_a_release_this_php_cannot_run_is_refused_before_anything_is_written(tmp_path):
    artifact, digest = release(tmp_path, "2.0.0", php="^9.0")
    root = tmp_path / "app"
    with pytest.raises(StageError, match=r"release 2.0.0 is not compatible with web1: requires php \^9.0"):
        do_stage(root, "2.0.0", artifact, digest)
    assert not root.exists()


def test_check_mode_writes_nothing(tmp_path):
    artifact, digest = release(tmp_path, "1.0.0", php="*")
    root = tmp_path / "app"
    result = do_stage(root, "1.0.0", artifact, digest, check_mode=True)
    assert result["changed"] is True and not root.exists()


def test_a_member_escaping_the_release_is_refused(tmp_path):
    artifact = tmp_path / "evil.tar.gz"
    with tarfile.open(artifact, "w:gz") as tar:
        for name, data in (("composer.json", b'{"require": {"php": "*"}}'), ("../escape.php", b"<?php\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    digest = hashlib.sha256(artifact.read_bytes()).hexdigest()
    root = tmp_path / "app"
    with pytest.raises(StageError, match=r"\.\./escape.php"):
        do_stage(root, "6.6.6", str(artifact), digest)
    assert not (tmp_path / "escape.php").exists()
    assert not root.exists()  # refused by the compatibility check, before anything is written


def test_lint_reports_every_broken_file(tmp_path):
    (tmp_path / "a.php").write_text("<?php echo 1;\n")
    (tmp_path / "b.php").write_text("<?php echo (;\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.php").write_text("<?php function {\n")
    errors = lint(str(tmp_path), run, PHP)
    assert [e.split(":")[0] for e in errors] == ["b.php", "sub/c.php"]
