"""tools/check_toolchain.py, run with the virtualenv's interpreter against the real .venv."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PYTHON = REPO / ".venv" / "bin" / "python"
SCRIPT = REPO / "tools" / "check_toolchain.py"

pytestmark = pytest.mark.skipif(not PYTHON.exists(), reason=f"{PYTHON} does not exist (make toolchain)")


def check(requirements):
    proc = subprocess.run([str(PYTHON), str(SCRIPT), str(requirements)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def installed(name):
    return subprocess.run([str(PYTHON), "-c", f"from importlib.metadata import version; print(version({name!r}))"],
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def pytest_version():
    return installed("pytest")


def test_the_real_requirements_match_the_installed_venv():
    lines = [line.split("#", 1)[0].strip() for line in (REPO / "requirements.txt").read_text().splitlines()]
    pins = [line for line in lines if line]
    rc, out, err = check("requirements.txt")
    assert (rc, err) == (0, "")
    assert out == f"toolchain: {len(pins)} pins match requirements.txt\n"


def test_the_default_file_is_requirements_txt():
    proc = subprocess.run([str(PYTHON), str(SCRIPT)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert re.fullmatch(r"toolchain: \d+ pins match requirements.txt\n", proc.stdout)


def test_a_different_pinned_version_is_refused(tmp_path, pytest_version):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"jmespath=={installed('jmespath')}\npytest==8.0.0\n")
    rc, out, err = check(requirements)
    assert (rc, out) == (1, "")
    assert err.splitlines() == [
        f"toolchain: the controller differs from {requirements}:",
        f"  pytest: pinned 8.0.0, installed {pytest_version}",
        "toolchain: refusing to run. Restore the pins with `make toolchain-reinstall` "
        "(or change requirements.txt through a reviewed commit).",
    ]


def test_every_drift_is_listed_including_a_package_not_installed(tmp_path, pytest_version):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("stackguard-no-such-dist==1.0\npytest==8.0.0\n")
    rc, _, err = check(requirements)
    assert rc == 1
    assert f"  pytest: pinned 8.0.0, installed {pytest_version}" in err.splitlines()
    assert "  stackguard-no-such-dist: pinned 1.0, not installed" in err.splitlines()


@pytest.mark.parametrize("line, lineno", [
    ("pytest>=8", 3),
    ("pytest", 3),
    ("pytest~=9.2", 3),
    ("-r other.txt", 3),
    ("git+https://example.invalid/pytest.git", 3),
])
def test_a_pin_that_is_not_exact_is_refused_naming_file_and_line(tmp_path, line, lineno):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"# the toolchain\n\n{line}\njmespath==1.1.0\n")
    rc, out, err = check(requirements)
    assert (rc, out) == (1, "")
    assert err == f"{requirements}:{lineno}: '{line}' is not an exact pin (name==version)\n"
    assert "Traceback" not in err


def test_names_extras_comments_and_blank_lines_are_understood(tmp_path, pytest_version):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "# comment line\n"
        "\n"
        f"PyTest == {pytest_version}   # trailing comment\n"
        f"molecule_plugins[docker]=={installed('molecule-plugins')}\n"
        f"PyYAML=={installed('PyYAML')}\n")
    rc, out, err = check(requirements)
    assert (rc, err) == (0, "")
    assert out == f"toolchain: 3 pins match {requirements}\n"


def test_a_pin_equal_under_pep440_is_accepted(tmp_path, pytest_version):
    parts = pytest_version.split(".")
    while len(parts) > 1 and parts[-1] == "0":
        parts.pop()
    padded = ".".join(parts) if ".".join(parts) != pytest_version else pytest_version + ".0"
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"pytest=={padded}\n")
    rc, out, err = check(requirements)
    assert (rc, err) == (0, "")


def test_a_missing_requirements_file_is_a_clean_error(tmp_path):
    rc, out, err = check(tmp_path / "nowhere.txt")
    assert rc != 0
    assert "Traceback" not in err
    assert str(tmp_path / "nowhere.txt") in err
