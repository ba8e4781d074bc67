"""tools/stack_lock.py (`make stack-lock`) on private copies of stacks/."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
STACKS = REPO / "stacks"
SCRIPT = REPO / "tools" / "stack_lock.py"

_spec = importlib.util.spec_from_file_location("stack_lock", SCRIPT)
stack_lock = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(stack_lock)


def sha(path):
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def run(stacks):
    proc = subprocess.run([sys.executable, str(SCRIPT), str(stacks)], capture_output=True, text=True,
                          timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def unlocked(tmp_path):
    """stacks/ without stacks.lock."""
    copy = tmp_path / "stacks"
    copy.mkdir()
    for manifest in STACKS.glob("*.yml"):
        shutil.copy2(manifest, copy)
    return copy


@pytest.fixture
def locked(unlocked):
    assert stack_lock.update_lock(str(unlocked))
    return unlocked


def test_records_every_revision_of_an_unlocked_directory(unlocked):
    manifests = sorted(unlocked.glob("*.yml"))
    revisions = {p.stem: yaml.safe_load(p.read_text())["revision"] for p in manifests}
    assert {"php74-apache24": 1, "php82-apache24": 1}.items() <= revisions.items()
    rc, out, err = run(unlocked)
    assert (rc, err) == (0, "")
    assert out == "".join(f"stack-lock: recorded {p.stem}@{revisions[p.stem]} {sha(p)}\n" for p in manifests)
    lock = yaml.safe_load((unlocked / "stacks.lock").read_text())
    assert lock == {p.stem: {revisions[p.stem]: sha(p)} for p in manifests}


def test_the_lock_written_agrees_with_the_committed_one(locked):
    written = yaml.safe_load((locked / "stacks.lock").read_text())
    committed = yaml.safe_load((STACKS / "stacks.lock").read_text())
    for name, revisions in written.items():
        for revision, recorded in revisions.items():
            assert committed[name][revision] == recorded, f"{name}@{revision} differs from stacks/stacks.lock"


def test_the_lock_layout(locked):
    text = (locked / "stacks.lock").read_text()
    lock = yaml.safe_load(text)
    assert text == (
        "---\n# Released stack revisions and the sha256 of their manifest files.\n"
        "# Written by `make stack-lock`; a released revision never changes.\n"
        + "".join(f"{name}:\n" + "".join(f"  {revision}: {recorded}\n" for revision, recorded in sorted(revs.items()))
                  for name, revs in sorted(lock.items())))


def test_the_lock_is_written_atomically_with_no_leftovers(locked):
    assert sorted(p.name for p in locked.iterdir()) == sorted(
        [p.name for p in STACKS.glob("*.yml")] + ["stacks.lock"])
    assert (locked / "stacks.lock").stat().st_mode & 0o777 == 0o644


def test_running_again_adds_nothing_and_leaves_the_lock_alone(locked):
    before = (locked / "stacks.lock").read_bytes()
    mtime = (locked / "stacks.lock").stat().st_mtime_ns
    rc, out, err = run(locked)
    assert (rc, out, err) == (0, "stack-lock: every revision is already recorded\n", "")
    assert (locked / "stacks.lock").read_bytes() == before
    assert (locked / "stacks.lock").stat().st_mtime_ns == mtime
    assert stack_lock.update_lock(str(locked)) == []


@pytest.mark.parametrize("edit", [
    lambda text: text.replace("  mpm: prefork\n", "  mpm: event\n"),
    lambda text: text + "# a note\n",
], ids=["value", "comment"])
def test_editing_a_released_manifest_in_place_is_refused(locked, edit):
    lock = locked / "stacks.lock"
    before = lock.read_bytes()
    path = locked / "php74-apache24.yml"
    released = sha(path)
    path.write_text(edit(path.read_text()))
    rc, out, err = run(locked)
    assert (rc, out) == (1, "")
    assert err == (f"stack-lock: {path}: php74-apache24 revision 1 is released with {released}; the file "
                   f"now has {sha(path)}. Bump `revision` to record the change as a new revision.\n")
    assert lock.read_bytes() == before


def test_an_edit_elsewhere_does_not_record_the_other_new_revisions(locked):
    """All or nothing: a refusal leaves the lock as it was, even if another file had a new revision."""
    lock = locked / "stacks.lock"
    before = lock.read_bytes()
    php82 = locked / "php82-apache24.yml"
    php82.write_text(php82.read_text().replace("revision: 1\n", "revision: 2\n"))
    php74 = locked / "php74-apache24.yml"
    php74.write_text(php74.read_text() + "# edited\n")
    rc, _, err = run(locked)
    assert rc == 1 and "php74-apache24 revision 1 is released with" in err
    assert lock.read_bytes() == before


def test_bumping_the_revision_records_it_and_keeps_the_old_one(locked):
    path = locked / "php74-apache24.yml"
    first = sha(path)
    path.write_text(path.read_text().replace("revision: 1\n", "revision: 2\n")
                    .replace("  mpm: prefork\n", "  mpm: event\n"))
    rc, out, err = run(locked)
    assert (rc, err) == (0, "")
    assert out == f"stack-lock: recorded php74-apache24@2 {sha(path)}\n"
    lock = yaml.safe_load((locked / "stacks.lock").read_text())
    assert lock["php74-apache24"] == {1: first, 2: sha(path)}
    assert lock["php82-apache24"] == {1: sha(locked / "php82-apache24.yml")}
    text = (locked / "stacks.lock").read_text()
    assert text.startswith("---\n# Released stack revisions")
    assert text.index("  1: ") < text.index("  2: ")  # revisions in order


def test_an_invalid_manifest_is_refused_naming_file_and_field(locked):
    before = (locked / "stacks.lock").read_bytes()
    path = locked / "php82-apache24.yml"
    path.write_text(path.read_text().replace("revision: 1\n", 'revision: "2"\n'))
    rc, out, err = run(locked)
    assert (rc, out) == (1, "")
    assert err.startswith(f"stack-lock: {path}: invalid stack manifest:\n")
    assert "revision: expected a whole number of at least 1, got '2'" in err
    assert (locked / "stacks.lock").read_bytes() == before


def test_a_malformed_lock_is_refused(locked):
    lock = locked / "stacks.lock"
    lock.write_text("php74-apache24:\n  1: sha256:nothex\n")
    rc, out, err = run(locked)
    assert rc == 1
    assert err == (f"stack-lock: {lock}: php74-apache24.1: expected <revision>: sha256:<64 hex digits>, "
                   f"got 'sha256:nothex'\n")
    assert lock.read_text() == "php74-apache24:\n  1: sha256:nothex\n"


def test_a_manifest_with_invalid_yaml_is_refused_naming_the_file(locked):
    path = locked / "php82-apache24.yml"
    path.write_text(path.read_text() + "extra: [unclosed\n")
    rc, out, err = run(locked)
    assert rc == 1
    assert "Traceback" not in err
    assert str(path) in err
