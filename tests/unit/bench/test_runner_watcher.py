"""bench/runner.py's CurrentWatcher: its loop really runs (here, on this machine instead of in a
container) and records each change of `current`, then stops when told."""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench import runner


def point(root: Path, version: str) -> None:
    """Move `current` the way release_switch does: a new link renamed over the old one."""
    (root / "current.next").symlink_to(f"releases/{version}")
    os.replace(root / "current.next", root / "current")


def wait_for(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_the_watcher_records_every_switch_in_order_and_stops(tmp_path):
    for version in ("1.0.0", "1.1.0"):
        (tmp_path / "releases" / version).mkdir(parents=True)
    point(tmp_path, "1.0.0")
    watcher = runner.CurrentWatcher({"web1": "here"}, root=str(tmp_path), max_seconds=60,
                                    exec_prefix=lambda container: [])
    started = time.time()
    with watcher:
        assert watcher.serving() == {"web1": "1.0.0"}
        point(tmp_path, "1.1.0")
        assert wait_for(lambda: watcher.serving() == {"web1": "1.1.0"})
        switched = time.time()
        point(tmp_path, "1.0.0")
        assert wait_for(lambda: watcher.serving() == {"web1": "1.0.0"})
    stopped = time.time()
    changes = watcher.changes(started)
    assert [change["version"] for change in changes] == ["1.0.0", "1.1.0", "1.0.0"]
    assert all(change["host"] == "web1" for change in changes)
    # Seen within a few polls of the switch (the loop reads the link every 50 ms).
    assert started <= changes[1]["time"] <= switched
    assert changes[2]["time"] <= stopped
    # The stop file ended the loop (it would otherwise run for max_seconds), and is gone.
    assert stopped - started < 10
    assert all(process.poll() is not None for process in watcher._processes)
    assert not os.path.exists(watcher._stop)


def test_a_missing_link_is_recorded_as_no_release(tmp_path):
    watcher = runner.CurrentWatcher({"web1": "here"}, root=str(tmp_path), max_seconds=60,
                                    exec_prefix=lambda container: [])
    with watcher:
        assert watcher.serving() == {"web1": ""}
        (tmp_path / "releases" / "1.0.0").mkdir(parents=True)
        point(tmp_path, "1.0.0")
        assert wait_for(lambda: watcher.serving() == {"web1": "1.0.0"})
