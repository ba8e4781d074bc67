"""deploy_lock: acquiring, taking over, releasing and querying lock files under tmp_path.

Races are real: processes (forked) and threads started together behind a barrier, all trying to
take the same lock; exactly one may win.
"""

from __future__ import annotations

import datetime
import json
import multiprocessing
import os
import stat
import threading
import time

import pytest

from ansible.module_utils.deploy_lock import (
    LockError, acquire, held_message, iso, query, read_lock, release, write_lock)

UTC = datetime.timezone.utc
T0 = datetime.datetime(2024, 5, 1, 12, 34, 56, tzinfo=UTC)


def take(path, run_id="run-a", owner="alice@laptop", **kw):
    kw.setdefault("controller_host", "laptop")
    kw.setdefault("controller_pid", 4242)
    return acquire(str(path), owner, run_id, **kw)


def content(path):
    return json.loads(path.read_text())


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture
def lock(tmp_path):
    return tmp_path / "stackguard" / "deploy.lock"


# --- present ----------------------------------------------------------------------------------

def test_acquire_creates_the_lock_and_its_directory(lock):
    old = os.umask(0o077)  # modes must not depend on the umask
    try:
        result = take(lock, ttl=1800, now=T0)
    finally:
        os.umask(old)
    expected = {"owner": "alice@laptop", "run_id": "run-a", "controller_host": "laptop",
                "controller_pid": 4242, "acquired_at": "2024-05-01T12:34:56Z",
                "expires_at": "2024-05-01T13:04:56Z"}
    assert result == {"changed": True, "holder": expected, "took_over": None}
    assert content(lock) == expected
    assert stat.S_IMODE(lock.stat().st_mode) == 0o644
    assert stat.S_IMODE(lock.parent.stat().st_mode) == 0o755
    assert leftovers(lock.parent) == []


def test_acquired_at_is_now_in_utc(lock):
    before = datetime.datetime.now(UTC).replace(microsecond=0)
    holder = take(lock, ttl=60)["holder"]
    acquired = datetime.datetime.strptime(holder["acquired_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    expires = datetime.datetime.strptime(holder["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= acquired <= datetime.datetime.now(UTC)
    assert expires - acquired == datetime.timedelta(seconds=60)


def test_the_same_run_holding_it_is_ok_and_unchanged(lock):
    first = take(lock, now=T0)["holder"]
    text = lock.read_text()
    result = take(lock, now=T0 + datetime.timedelta(minutes=5))
    assert result == {"changed": False, "holder": first, "took_over": None}
    assert lock.read_text() == text


def test_another_run_holding_it_fails_naming_the_holder(lock):
    take(lock, now=T0)
    with pytest.raises(LockError) as raised:
        take(lock, run_id="run-b", owner="bob@desk", now=T0 + datetime.timedelta(minutes=1))
    assert str(raised.value) == (
        "deploy lock held by alice@laptop (run run-a, from laptop pid 4242) since "
        "2024-05-01T12:34:56Z, until 2024-05-01T13:04:56Z; wait, or rerun with -e "
        "force_unlock=true if that run is dead")
    assert raised.value.result["holder"] == content(lock)
    assert content(lock)["run_id"] == "run-a"


def test_an_expired_lock_is_taken_over(lock):
    take(lock, ttl=1)
    with pytest.raises(LockError):
        take(lock, run_id="run-b", owner="bob@desk")
    time.sleep(1.1)
    result = take(lock, run_id="run-b", owner="bob@desk")
    assert result["changed"] is True and result["took_over"] == "expired"
    assert result["previous_holder"]["run_id"] == "run-a"
    assert content(lock)["run_id"] == "run-b" and content(lock)["owner"] == "bob@desk"
    assert leftovers(lock.parent) == []


def test_expiry_is_exact_to_the_second(lock):
    take(lock, ttl=60, now=T0)
    with pytest.raises(LockError):
        take(lock, run_id="run-b", now=T0 + datetime.timedelta(seconds=59))
    assert take(lock, run_id="run-b", now=T0 + datetime.timedelta(seconds=60))["took_over"] == "expired"


def test_a_lock_of_a_run_that_died_on_this_controller_is_taken_over(lock):
    take(lock, run_id="laptop-100-1", now=T0)
    result = take(lock, run_id="laptop-200-2", now=T0, live_runs=["laptop-200-2"])
    assert result["changed"] is True and result["took_over"] == "dead"
    assert result["previous_holder"]["run_id"] == "laptop-100-1"
    assert content(lock)["run_id"] == "laptop-200-2"


def test_a_lock_of_a_live_run_or_of_another_controller_is_not_taken_over(lock):
    take(lock, run_id="laptop-100-1", now=T0)
    with pytest.raises(LockError, match="alice@laptop"):
        take(lock, run_id="laptop-200-2", now=T0, live_runs=["laptop-100-1", "laptop-200-2"])
    with pytest.raises(LockError):  # the same run id list, seen from another controller
        take(lock, run_id="ci-300-3", now=T0, controller_host="ci", live_runs=["ci-300-3"])
    with pytest.raises(LockError):  # no list: nothing is known to be dead
        take(lock, run_id="laptop-200-2", now=T0)
    assert content(lock)["run_id"] == "laptop-100-1"


def test_force_takes_over_a_live_lock(lock):
    take(lock, now=T0)
    result = take(lock, run_id="run-b", owner="bob@desk", force=True, now=T0)
    assert result["took_over"] == "forced" and result["changed"] is True
    assert content(lock)["run_id"] == "run-b"


def test_an_unreadable_expiry_holds(lock):
    lock.parent.mkdir()
    lock.write_text(json.dumps({"owner": "carol", "run_id": "old", "expires_at": "soon"}))
    with pytest.raises(LockError, match=r"^deploy lock held by carol \(run old, from None pid None\)"):
        take(lock, now=T0)


@pytest.mark.parametrize("text", ["", "{not json", "[1, 2]", '"a string"'])
def test_a_corrupt_lock_is_held_by_unknown_and_force_clears_it(lock, text):
    lock.parent.mkdir()
    lock.write_text(text)
    with pytest.raises(LockError) as raised:
        take(lock)
    assert str(raised.value) == (
        f"deploy lock {lock} is corrupt (not a JSON object), so it is held by unknown; wait, or "
        "rerun with -e force_unlock=true if no deploy is running")
    assert raised.value.result["holder"] == {"owner": "unknown", "corrupt": True, "content": text}
    assert lock.read_text() == text
    result = take(lock, force=True)
    assert result["took_over"] == "forced" and content(lock)["run_id"] == "run-a"


def test_options_are_checked(lock):
    with pytest.raises(LockError, match="needs owner and run_id"):
        acquire(str(lock), "alice", "")
    with pytest.raises(LockError, match="ttl must be at least 1 second"):
        take(lock, ttl=0)
    assert not lock.parent.exists()


def test_a_directory_in_the_locks_place_is_reported(lock):
    lock.mkdir(parents=True)
    with pytest.raises(LockError, match="is a directory, not a deploy lock"):
        take(lock)


# --- races ------------------------------------------------------------------------------------

def _race(path, run_id, barrier, results):
    barrier.wait()
    try:
        acquire(path, f"user{run_id}", run_id, "host", os.getpid(), 1800)
        results.put(run_id)
    except LockError:
        results.put(None)


@pytest.mark.parametrize("existing", ["none", "expired"])
def test_processes_racing_to_acquire_exactly_one_wins(lock, existing):
    if existing == "expired":
        take(lock, run_id="dead", ttl=1, now=T0)
    ctx = multiprocessing.get_context("fork")
    n = 8
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(str(lock), f"run-{i}", barrier, results)) for i in range(n)]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=20) for _ in procs]
    for proc in procs:
        proc.join(timeout=20)
    winners = [o for o in outcomes if o]
    assert len(winners) == 1, outcomes
    assert content(lock)["run_id"] == winners[0]
    assert leftovers(lock.parent) == []


def test_threads_racing_to_acquire_exactly_one_wins(lock):
    n = 16
    barrier, winners, errors = threading.Barrier(n), [], []

    def contender(i):
        barrier.wait()
        try:
            take(lock, run_id=f"run-{i}")
            winners.append(i)
        except LockError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1 and len(errors) == n - 1
    assert content(lock)["run_id"] == f"run-{winners[0]}"


def test_the_exclusive_write_alone_lets_one_writer_win(tmp_path):
    """Without the directory flock, link(2) still refuses every writer but one."""
    path, n = str(tmp_path / "deploy.lock"), 16
    barrier, won = threading.Barrier(n), []

    def writer(i):
        barrier.wait()
        won.append(write_lock(path, {"run_id": f"run-{i}"}))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert won.count(True) == 1
    assert leftovers(tmp_path) == []


# --- absent -----------------------------------------------------------------------------------

def test_release_removes_our_lock(lock):
    take(lock)
    result = release(str(lock), "run-a")
    assert result["changed"] is True and result["holder"] is None
    assert result["previous_holder"]["run_id"] == "run-a"
    assert not lock.exists()


def test_release_without_a_lock_is_ok(lock):
    assert release(str(lock), "run-a") == {"changed": False, "holder": None, "took_over": None}
    lock.parent.mkdir()
    assert release(str(lock), "run-a")["changed"] is False


def test_release_refuses_another_runs_lock(lock):
    take(lock, now=T0)
    with pytest.raises(LockError) as raised:
        release(str(lock), "run-b")
    assert str(raised.value) == (
        "deploy lock held by alice@laptop (run run-a, from laptop pid 4242) since "
        "2024-05-01T12:34:56Z, until 2024-05-01T13:04:56Z; not releasing another run's lock "
        "(force=true removes it)")
    assert content(lock)["run_id"] == "run-a"


def test_release_with_force_removes_any_lock(lock):
    take(lock)
    result = release(str(lock), None, force=True)
    assert result["changed"] is True and result["took_over"] == "forced" and not lock.exists()
    lock.write_text("garbage")
    assert release(str(lock), "run-a", force=True)["changed"] is True and not lock.exists()


def test_release_refuses_a_corrupt_lock_without_force(lock):
    lock.parent.mkdir()
    lock.write_text("garbage")
    with pytest.raises(LockError, match="is corrupt .* held by unknown; not releasing another run's lock"):
        release(str(lock), "run-a")
    assert lock.exists()


def test_release_needs_a_run_id_or_force(lock):
    with pytest.raises(LockError, match="needs run_id"):
        release(str(lock), None)


# --- query ------------------------------------------------------------------------------------

def test_query(lock):
    assert query(str(lock)) == {"changed": False, "holder": None, "took_over": None, "expired": None}
    holder = take(lock, ttl=60, now=T0)["holder"]
    text = lock.read_text()
    assert query(str(lock), now=T0) == {"changed": False, "holder": holder, "took_over": None,
                                        "expired": False}
    assert query(str(lock), now=T0 + datetime.timedelta(seconds=61))["expired"] is True
    assert lock.read_text() == text
    lock.write_text("{")
    assert query(str(lock))["holder"] == {"owner": "unknown", "corrupt": True, "content": "{"}


# --- check mode -------------------------------------------------------------------------------

def test_check_mode_acquire_writes_nothing(lock):
    result = take(lock, check_mode=True, now=T0)
    assert result["changed"] is True and result["holder"]["run_id"] == "run-a"
    assert not lock.parent.exists()
    lock.parent.mkdir()
    assert take(lock, check_mode=True)["changed"] is True
    assert os.listdir(lock.parent) == []


def test_check_mode_takeover_and_release_write_nothing(lock):
    take(lock, now=T0)
    text = lock.read_text()
    assert take(lock, run_id="run-b", force=True, check_mode=True, now=T0)["took_over"] == "forced"
    assert take(lock, run_id="run-b", check_mode=True,
                now=T0 + datetime.timedelta(hours=1))["took_over"] == "expired"
    assert release(str(lock), "run-a", check_mode=True)["changed"] is True
    assert lock.read_text() == text
    with pytest.raises(LockError):
        take(lock, run_id="run-b", check_mode=True, now=T0)


# --- helpers ----------------------------------------------------------------------------------

def test_iso_is_utc_with_z():
    eastern = datetime.timezone(datetime.timedelta(hours=2))
    assert iso(datetime.datetime(2024, 5, 1, 14, 0, 0, tzinfo=eastern)) == "2024-05-01T12:00:00Z"


def test_read_lock_and_message(lock):
    assert read_lock(str(lock)) is None
    holder = {"owner": "o", "run_id": "r", "controller_host": "h", "controller_pid": 1,
              "acquired_at": "a", "expires_at": "e"}
    assert held_message("p", holder) == ("deploy lock held by o (run r, from h pid 1) since a, "
                                         "until e; wait, or rerun with -e force_unlock=true if "
                                         "that run is dead")
