"""The stack_manifest lookup, driven for real through the `ansible` command with the repo's config.

The plain case is exactly the operator's command,
``ansible localhost -m ansible.builtin.debug -a "msg={{ lookup('stack_manifest', ...) }}"``.
The other cases run in one ad-hoc run whose inventory has one host per case (the case's
arguments are host variables), so each case's result is attributed to its host and the whole
table costs one Ansible start-up. Errors must reach the operator as a clean message: no traceback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[4]
BIN = REPO / ".venv" / "bin"
STACKS = REPO / "stacks"
LOCK = yaml.safe_load((STACKS / "stacks.lock").read_text())
RESULT = re.compile(r"^([\w.-]+) \| (SUCCESS|FAILED!) => (\{\n.*?\n\})$", re.M | re.S)

pytestmark = pytest.mark.skipif(not (BIN / "ansible").exists(), reason=".venv has no ansible (make toolchain)")


def run_ansible(*args):
    """Run `ansible` from the repo with its ansible.cfg; return (rc, output, {host: result})."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CALLBACK_RESULT_FORMAT="json", PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run([str(BIN / "ansible"), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    results = {m.group(1): dict(json.loads(m.group(3)), status=m.group(2))
               for m in RESULT.finditer(proc.stdout)}
    return proc.returncode, proc.stdout + proc.stderr, results


def _manifest(name):
    path = STACKS / f"{name}.yml"
    data = yaml.safe_load(path.read_bytes())
    data["digest"] = LOCK[name][data["revision"]]
    data["source"] = str(path)
    return data


def test_the_operators_command_prints_the_verified_manifest():
    rc, output, results = run_ansible(
        "localhost", "-i", "localhost,", "-c", "local", "-m", "ansible.builtin.debug",
        "-a", "msg={{ lookup('stack_manifest', 'php74-apache24', revision=1) }}")
    assert rc == 0, output
    # no stacks_dir: the lookup found the repo's stacks/ on its own
    assert results["localhost"]["msg"] == _manifest("php74-apache24")


def _copy(root, name, old=None, new=None, revision_file="php74-apache24.yml"):
    copy = root / name
    shutil.copytree(STACKS, copy)
    if old is not None:
        path = copy / revision_file
        text = path.read_text()
        assert text.count(old) == 1
        path.write_text(text.replace(old, new))
    return copy


# case -> (stack name(s), revision, stacks dir or None for the repo's, edit of a private copy)
CASES = {
    "both-string-revision": (["php74-apache24", "php82-apache24"], "1", None, None),
    "unknown": ("php99-nginx", 1, None, None),
    "other-revision": ("php74-apache24", 7, None, None),
    "revision-zero": ("php74-apache24", 0, None, None),
    "revision-not-a-number": ("php74-apache24", "abc", None, None),
    "edited": ("php74-apache24", 1, "copy", ("  mpm: prefork\n", "  mpm: event\n")),
    "bumped": ("php74-apache24", 2, "copy", ("revision: 1\n", "revision: 2\n")),
    "missing-field": ("php74-apache24", 1, "copy", ("  release: bullseye\n", "")),
    "no-lock": ("php74-apache24", 1, "copy-without-lock", None),
}


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    root = tmp_path_factory.mktemp("lookup-stack-manifest")
    hosts, dirs = {}, {}
    for case, (names, revision, where, edit) in CASES.items():
        stacks = STACKS
        if where:
            stacks = _copy(root, case, *(edit or ()))
            if where == "copy-without-lock":
                (stacks / "stacks.lock").unlink()
        dirs[case] = stacks
        hosts[case] = {"case_names": names if isinstance(names, list) else [names],
                       "case_revision": revision, "case_stacks_dir": str(stacks)}
    inventory = root / "cases.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    rc, output, results = run_ansible(
        "all", "-i", str(inventory), "-c", "local", "-m", "ansible.builtin.debug",
        "-a", "msg={{ query('stack_manifest', *case_names, revision=case_revision, "
              "stacks_dir=case_stacks_dir) }}")
    assert set(results) == set(CASES), output
    return rc, output, results, dirs


def test_query_returns_one_manifest_per_term_and_takes_a_digit_string_revision(table):
    results = table[2]
    assert results["both-string-revision"]["status"] == "SUCCESS"
    assert results["both-string-revision"]["msg"] == [_manifest("php74-apache24"), _manifest("php82-apache24")]


def _expected(case, dirs):
    d = dirs[case]
    return {
        "unknown": [f"unknown stack 'php99-nginx': no {d}/php99-nginx.yml "
                    f"(known stacks: {', '.join(sorted(p.stem for p in STACKS.glob('*.yml')))})"],
        "other-revision": [f"{d}/php74-apache24.yml: the inventory pins php74-apache24 revision 7, "
                           f"but the file holds revision 1."],
        "revision-zero": ["stack php74-apache24: revision 0 is not a whole number >= 1"],
        "revision-not-a-number": ["Config 'revision' for 'stack_manifest' lookup plugin", "'abc'"],
        "edited": [f"{d}/php74-apache24.yml: php74-apache24 revision 1 was released with "
                   f"digest {LOCK['php74-apache24'][1]} but the file now has sha256:",
                   "(bump `revision`, then `make stack-lock`)"],
        "bumped": [f"{d}/php74-apache24.yml: php74-apache24 revision 2 is not in "
                   f"{d}/stacks.lock. Record a new revision with `make stack-lock`"],
        "missing-field": [f"{d}/php74-apache24.yml: invalid stack manifest:\n  os.release: missing"],
        "no-lock": [f"{d}/stacks.lock: missing; create it with `make stack-lock`"],
    }[case]


@pytest.mark.parametrize("case", [c for c in CASES if c != "both-string-revision"])
def test_lookup_error_is_one_clean_message(table, case):
    rc, output, results, dirs = table
    assert rc != 0
    assert results[case]["status"] == "FAILED!"
    message = results[case]["msg"]
    assert "The lookup plugin 'stack_manifest' failed: " in message
    for fragment in _expected(case, dirs):
        assert fragment in message
    assert "Traceback (most recent call last)" not in output
    assert "ManifestError" not in output  # the operator gets the message, not the exception class
