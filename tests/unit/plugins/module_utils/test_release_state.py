"""release_state: every transition, pruning on a real directory tree, and the state file itself."""

from __future__ import annotations

import datetime
import json
import os
import stat

import pytest

from ansible.module_utils.release_state import (
    StateError, apply, empty, iso, load, newest_good, prune_plan, run)

UTC = datetime.timezone.utc
T0 = datetime.datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def at(minutes):
    return T0 + datetime.timedelta(minutes=minutes)


def stamp(minutes):
    return iso(at(minutes))


@pytest.fixture
def path(tmp_path):
    return tmp_path / "lib" / "stackguard" / "releases.json"


def saved(path):
    return json.loads(path.read_text())


def step(path, action, version=None, minutes=0, **kw):
    return run(str(path), action, version, now=at(minutes), **kw)


# --- the state file ---------------------------------------------------------------------------

def test_query_without_a_file(path):
    result = step(path, "query")
    assert result == {"changed": False, "state": empty(), "exists": False, "removed": []}
    assert not path.parent.exists()


def test_first_deploy_creates_the_file_atomically_0644(path):
    old = os.umask(0o077)
    try:
        result = step(path, "deployed", "1.0.0")
    finally:
        os.umask(old)
    expected = {"current": "1.0.0", "last_known_good": None,
                "releases": {"1.0.0": {"status": "deployed", "deployed_at": "2024-05-01T12:00:00.000000Z"}}}
    assert result == {"changed": True, "state": expected, "exists": True, "removed": []}
    assert saved(path) == expected
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o755
    assert os.listdir(path.parent) == ["releases.json"]  # no temporary file left
    assert step(path, "query") == {**result, "changed": False}


def test_an_unchanged_state_is_not_rewritten(path):
    def written(action, version, minutes, **kw):
        before = path.stat().st_ino if path.exists() else None
        result = step(path, action, version, minutes, **kw)
        assert (path.stat().st_ino != before) is result["changed"]  # os.replace: a new inode
        return result["changed"]

    assert written("deployed", "1.0.0", 0) is True
    assert written("deployed", "1.0.0", 1) is False
    assert written("good", "1.0.0", 2) is True
    assert written("good", "1.0.0", 3) is False
    assert written("deployed", "1.0.0", 4) is False  # current and good: nothing to record
    assert written("bad", "0.1.0", 5, reason="x") is True
    assert written("bad", "0.1.0", 6, reason="x") is False
    assert saved(path)["releases"]["1.0.0"] == {"status": "good", "deployed_at": stamp(0),
                                                "marked_at": stamp(2)}


@pytest.mark.parametrize("text, message", [
    ("{\"current\": ", "is not valid JSON"),
    ("[]", "is not a JSON object"),
    ('{"releases": []}', "'releases' must map each version to an object"),
    ('{"releases": {"1.0.0": "good"}}', "'releases' must map each version to an object"),
    ('{"current": 3}', "'current' must be a version or null"),
])
def test_a_corrupt_state_file_is_a_clear_error_naming_it(path, text, message):
    path.parent.mkdir(parents=True)
    path.write_text(text)
    for action, version in (("query", None), ("deployed", "1.0.0"), ("prune", None)):
        with pytest.raises(StateError) as raised:
            run(str(path), action, version, root=str(path.parent))
        assert str(path) in str(raised.value) and message in str(raised.value)
        assert str(raised.value).startswith("release state file ")
    assert path.read_text() == text


def test_unknown_keys_are_kept(path):
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"current": None, "note": "hand edited", "releases": {}}))
    step(path, "deployed", "1.0.0")
    assert saved(path)["note"] == "hand edited"


# --- transitions ------------------------------------------------------------------------------

def test_deployed_then_good(path):
    step(path, "deployed", "1.0.0", 0)
    state = step(path, "good", "1.0.0", 1)["state"]
    assert state == {"current": "1.0.0", "last_known_good": "1.0.0", "releases": {
        "1.0.0": {"status": "good", "deployed_at": stamp(0), "marked_at": stamp(1)}}}


def test_deployed_keeps_previous_good_ones(path):
    step(path, "deployed", "1.0.0", 0)
    step(path, "good", "1.0.0", 1)
    state = step(path, "deployed", "1.1.0", 2)["state"]
    assert state["current"] == "1.1.0" and state["last_known_good"] == "1.0.0"
    assert state["releases"]["1.0.0"]["status"] == "good"
    assert state["releases"]["1.1.0"] == {"status": "deployed", "deployed_at": stamp(2)}


def test_bad_release_of_last_known_good_falls_back_to_the_newest_other_good(path):
    for minutes, version in enumerate(("1.0.0", "1.1.0", "1.2.0")):
        step(path, "deployed", version, minutes * 10)
        step(path, "good", version, minutes * 10 + 1)
    step(path, "deployed", "1.3.0", 40)
    state = step(path, "bad", "1.2.0", 41, reason="users cannot log in")["state"]
    assert state["last_known_good"] == "1.1.0"
    assert state["current"] == "1.3.0"  # what is deployed does not change
    assert state["releases"]["1.2.0"] == {"status": "bad", "reason": "users cannot log in",
                                          "deployed_at": stamp(20), "marked_at": stamp(41)}
    assert step(path, "bad", "1.1.0", 42, reason="also")["state"]["last_known_good"] == "1.0.0"
    assert step(path, "bad", "1.0.0", 43, reason="all")["state"]["last_known_good"] is None


def test_bad_release_that_is_not_last_known_good_leaves_it(path):
    step(path, "good", "1.0.0", 0)
    step(path, "deployed", "1.1.0", 1)
    state = step(path, "bad", "1.1.0", 2, reason="healthz: schema behind")["state"]
    assert state["last_known_good"] == "1.0.0" and state["current"] == "1.1.0"
    assert state["releases"]["1.1.0"]["status"] == "bad"


def test_bad_for_an_unknown_release_records_it(path):
    state = step(path, "bad", "0.9.0", reason="never again")["state"]
    assert state["releases"] == {"0.9.0": {"status": "bad", "reason": "never again", "marked_at": stamp(0)}}
    assert state["current"] is None


def test_bad_needs_a_reason(path):
    with pytest.raises(StateError, match="action=bad needs a reason"):
        step(path, "bad", "1.0.0")


def test_a_new_reason_updates_a_bad_release(path):
    step(path, "bad", "1.0.0", 0, reason="a")
    result = step(path, "bad", "1.0.0", 1, reason="b")
    assert result["changed"] is True and result["state"]["releases"]["1.0.0"]["reason"] == "b"


def test_good_without_a_deploy_record(path):
    state = step(path, "good", "1.0.0", 3)["state"]
    assert state["releases"]["1.0.0"] == {"status": "good", "deployed_at": stamp(3), "marked_at": stamp(3)}


def test_redeploying_a_bad_release_makes_it_deployed_again(path):
    step(path, "deployed", "1.1.0", 0)
    step(path, "bad", "1.1.0", 1, reason="broken")
    result = step(path, "deployed", "1.1.0", 2)
    assert result["changed"] is True
    assert result["state"]["releases"]["1.1.0"] == {"status": "deployed", "deployed_at": stamp(2)}


def test_rolling_back_to_a_good_release_keeps_it_good(path):
    step(path, "good", "1.0.0", 0)
    step(path, "deployed", "1.1.0", 1)
    state = step(path, "deployed", "1.0.0", 2)["state"]
    assert state["current"] == "1.0.0" and state["last_known_good"] == "1.0.0"
    assert state["releases"]["1.0.0"]["status"] == "good"
    assert state["releases"]["1.0.0"]["deployed_at"] == stamp(2)


def test_good_after_another_release_was_marked_good_moves_current(path):
    step(path, "good", "1.0.0", 0)
    step(path, "good", "1.1.0", 1)
    result = step(path, "good", "1.0.0", 2)
    assert result["changed"] is True
    assert (result["state"]["current"], result["state"]["last_known_good"]) == ("1.0.0", "1.0.0")


@pytest.mark.parametrize("version", ["", "..", "a/b", "1.0.0.partial"])
def test_a_bad_version_name_is_refused(path, version):
    with pytest.raises(StateError, match="is not a release name"):
        step(path, "deployed", version)
    assert not path.exists()


def test_version_is_required(path):
    with pytest.raises(StateError, match="action=good needs version"):
        run(str(path), "good")
    with pytest.raises(StateError, match="action must be one of"):
        run(str(path), "drop")


def test_apply_leaves_its_input_alone():
    state = empty()
    apply(state, "deployed", "1.0.0", now=T0)
    assert state == empty()


def test_newest_good_skips_pruned_releases():
    state = {"current": "3", "last_known_good": "3", "releases": {
        "1": {"status": "good", "deployed_at": stamp(1)},
        "2": {"status": "good", "deployed_at": stamp(2), "pruned_at": stamp(5)},
        "3": {"status": "good", "deployed_at": stamp(3)}}}
    assert newest_good(state, besides="3") == "1"


# --- check mode -------------------------------------------------------------------------------

def test_check_mode_reports_and_writes_nothing(path):
    result = run(str(path), "deployed", "1.0.0", check_mode=True, now=T0)
    assert result["changed"] is True and result["state"]["current"] == "1.0.0"
    assert result["exists"] is False and not path.parent.exists()
    step(path, "deployed", "1.0.0")
    text = path.read_text()
    result = run(str(path), "bad", "1.0.0", reason="x", check_mode=True, now=at(1))
    assert result["changed"] is True and result["state"]["releases"]["1.0.0"]["status"] == "bad"
    assert path.read_text() == text
    assert run(str(path), "deployed", "1.0.0", check_mode=True)["changed"] is False


# --- prune ------------------------------------------------------------------------------------

def make_app(tmp_path, versions, current):
    root = tmp_path / "app"
    for version in versions:
        (root / "releases" / version / "public").mkdir(parents=True)
        (root / "releases" / version / "release.json").write_text(json.dumps({"version": version}))
    if current:
        os.symlink(f"releases/{current}", root / "current")
    return root


def history(path, deployed, good=(), lkg=None):
    """deployed: versions in deploy order (one minute apart)."""
    for minutes, version in enumerate(deployed):
        step(path, "deployed", version, minutes)
        if version in good:
            step(path, "good", version, minutes)
    if lkg:
        state = saved(path)
        state["last_known_good"] = lkg
        path.write_text(json.dumps(state))


def left(root):
    return sorted(os.listdir(root / "releases"))


def prune(path, root, keep, **kw):
    return run(str(path), "prune", root=str(root), keep=keep, now=at(100), **kw)


def test_prune_keeps_the_newest_by_deploy_time(tmp_path, path):
    versions = ["1.0.0", "1.1.0", "1.10.0", "1.2.0", "1.3.0"]  # names do not sort by age
    root = make_app(tmp_path, versions, "1.3.0")
    history(path, ["1.0.0", "1.1.0", "1.2.0", "1.10.0", "1.3.0"], good={"1.3.0"})
    result = prune(path, root, keep=2)
    assert result["removed"] == ["1.0.0", "1.1.0", "1.2.0"]  # oldest first
    assert left(root) == ["1.10.0", "1.3.0"]
    assert result["changed"] is True
    assert saved(path)["releases"]["1.0.0"]["pruned_at"] == stamp(100)
    assert "pruned_at" not in saved(path)["releases"]["1.10.0"]
    again = prune(path, root, keep=2)
    assert again["removed"] == [] and again["changed"] is False


def test_prune_never_removes_current_or_last_known_good(tmp_path, path):
    versions = ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"]
    root = make_app(tmp_path, versions, "1.1.0")  # rolled back to an old one by hand
    history(path, versions, good={"1.0.0"}, lkg="1.0.0")
    result = prune(path, root, keep=1)
    assert result["removed"] == ["1.2.0", "1.3.0"]
    assert left(root) == ["1.0.0", "1.1.0", "1.4.0"]
    # 1.4.0 is still current in the state (the link was moved by hand): kept as well
    assert prune(path, root, keep=0)["removed"] == []
    assert left(root) == ["1.0.0", "1.1.0", "1.4.0"]


def test_prune_protects_the_states_current_too(tmp_path, path):
    versions = ["1.0.0", "1.1.0", "1.2.0"]
    root = make_app(tmp_path, versions, "1.2.0")
    history(path, versions)
    state = saved(path)
    state["current"] = "1.0.0"
    path.write_text(json.dumps(state))
    assert prune(path, root, keep=0)["removed"] == ["1.1.0"]


def test_directories_the_state_does_not_know_are_oldest(tmp_path, path):
    root = make_app(tmp_path, ["0.1.0", "0.2.0", "9.9.9", "1.0.0", "1.1.0"], "1.1.0")
    os.utime(root / "releases" / "9.9.9", (1, 1))  # the oldest unknown one
    history(path, ["1.0.0", "1.1.0"])
    result = prune(path, root, keep=3)
    assert result["removed"] == ["9.9.9", "0.1.0"]
    assert left(root) == ["0.2.0", "1.0.0", "1.1.0"]
    assert "0.1.0" not in saved(path)["releases"]  # unknown ones are not added to the state


def test_prune_removes_partial_leftovers(tmp_path, path):
    root = make_app(tmp_path, ["1.0.0", "1.1.0"], "1.1.0")
    (root / "releases" / "1.2.0.partial" / "public").mkdir(parents=True)
    (root / "releases" / "1.0.0.partial").mkdir()
    history(path, ["1.0.0", "1.1.0"])
    result = prune(path, root, keep=5)
    assert result["removed"] == ["1.0.0.partial", "1.2.0.partial"]
    assert result["changed"] is True and left(root) == ["1.0.0", "1.1.0"]
    assert saved(path)["releases"]["1.0.0"].get("pruned_at") is None


def test_prune_ignores_files_and_symlinks_in_releases(tmp_path, path):
    root = make_app(tmp_path, ["1.0.0", "1.1.0"], "1.1.0")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("x")
    os.symlink(outside, root / "releases" / "0.0.1")
    (root / "releases" / "README").write_text("x")
    history(path, ["1.0.0", "1.1.0"])
    assert prune(path, root, keep=0)["removed"] == ["1.0.0"]
    assert (outside / "keep.txt").exists()
    assert left(root) == ["0.0.1", "1.1.0", "README"]


@pytest.mark.parametrize("current", ["missing", "directory", "outside", "loop"])
def test_prune_deletes_nothing_while_current_cannot_be_read(tmp_path, path, current):
    root = make_app(tmp_path, ["1.0.0", "1.1.0", "1.2.0"], None)
    (root / "releases" / "1.3.0.partial").mkdir()
    history(path, ["1.0.0", "1.1.0", "1.2.0"])
    if current == "directory":
        (root / "current").mkdir()
    elif current == "outside":
        os.symlink("/opt/elsewhere", root / "current")
    elif current == "loop":
        os.symlink("current", root / "current")
    before, text = left(root), path.read_text()
    with pytest.raises(StateError, match="pruning nothing") as raised:
        prune(path, root, keep=0)
    assert str(root / "current") in str(raised.value)
    assert left(root) == before and path.read_text() == text


def test_prune_check_mode_reports_a_missing_current(tmp_path, path):
    root = make_app(tmp_path, ["1.0.0", "1.1.0"], None)
    history(path, ["1.0.0", "1.1.0"])
    result = prune(path, root, keep=0, check_mode=True)
    assert result["changed"] is False and result["removed"] == []
    assert result["msg"] == f"cannot read {root}/current (No such file or directory); pruning nothing"
    with pytest.raises(StateError):  # but a current that is not a symlink still fails
        (root / "current").mkdir()
        prune(path, root, keep=0, check_mode=True)


def test_a_dangling_current_still_names_its_release(tmp_path, path):
    root = make_app(tmp_path, ["1.0.0", "1.1.0"], None)
    os.symlink("releases/1.2.0", root / "current")
    history(path, ["1.0.0", "1.1.0", "1.2.0"])
    assert prune(path, root, keep=0)["removed"] == ["1.0.0", "1.1.0"]


def test_prune_check_mode_deletes_nothing(tmp_path, path):
    root = make_app(tmp_path, ["1.0.0", "1.1.0", "1.2.0"], "1.2.0")
    (root / "releases" / "1.3.0.partial").mkdir()
    history(path, ["1.0.0", "1.1.0", "1.2.0"])
    text = path.read_text()
    result = prune(path, root, keep=1, check_mode=True)
    assert result["removed"] == ["1.0.0", "1.1.0", "1.3.0.partial"] and result["changed"] is True
    assert result["state"]["releases"]["1.0.0"]["pruned_at"] == stamp(100)
    assert left(root) == ["1.0.0", "1.1.0", "1.2.0", "1.3.0.partial"]
    assert path.read_text() == text


def test_prune_without_a_state_file_or_releases(tmp_path, path):
    root = make_app(tmp_path, ["1.0.0", "1.1.0"], "1.1.0")
    result = prune(path, root, keep=0)
    assert result["removed"] == ["1.0.0"] and not path.exists()
    empty_root = tmp_path / "empty"
    empty_root.mkdir()
    os.symlink("releases/1.0.0", empty_root / "current")
    assert prune(path, empty_root, keep=0)["removed"] == []


def test_prune_options(tmp_path, path):
    root = make_app(tmp_path, ["1.0.0"], "1.0.0")
    with pytest.raises(StateError, match="keep must be 0 or more"):
        prune(path, root, keep=-1)
    with pytest.raises(StateError, match="needs root"):
        run(str(path), "prune", root=None)


def test_a_prune_interrupted_after_the_rename_is_finished_next_time(tmp_path, path):
    """A release being pruned is renamed to <v>.partial first: a leftover never looks whole."""
    root = make_app(tmp_path, ["1.0.0", "1.1.0"], "1.1.0")
    history(path, ["1.0.0", "1.1.0"])
    os.rename(root / "releases" / "1.0.0", root / "releases" / "1.0.0.partial")
    old, partials = prune_plan(str(root), load(str(path))[0], 0)
    assert (old, partials) == ([], ["1.0.0.partial"])
    prune(path, root, keep=0)
    assert left(root) == ["1.1.0"]


def test_good_with_a_root_records_then_prunes_in_one_call(tmp_path, path):
    versions = ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]
    root = make_app(tmp_path, versions, "1.3.0")
    history(path, versions, good={"1.0.0", "1.1.0", "1.2.0"})
    result = run(str(path), "good", "1.3.0", root=str(root), keep=2, now=at(100))
    assert result["changed"] is True and result["removed"] == ["1.0.0", "1.1.0"]
    assert left(root) == ["1.2.0", "1.3.0"]
    state = saved(path)
    assert (state["current"], state["last_known_good"]) == ("1.3.0", "1.3.0")
    assert state["releases"]["1.3.0"]["status"] == "good"
    assert state["releases"]["1.0.0"]["pruned_at"] == stamp(100)
    again = run(str(path), "good", "1.3.0", root=str(root), keep=2, now=at(101))
    assert again["changed"] is False and again["removed"] == []
