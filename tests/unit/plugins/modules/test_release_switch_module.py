"""The release_switch module through real Ansible (`ansible localhost -m release_switch`).

Each case has its own app root under a temporary directory, its own /healthz server (the one the
module_utils tests use: it answers for the release `current` points at) and a reload script that
records where `current` pointed when it ran. The runs start together, once per test module.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest

from tests.unit.ansible_adhoc import ANSIBLE, ansible
from tests.unit.plugins.module_utils.test_release_switch import (
    HealthServer, healthy_body, reload_script, reloads, stage)

pytestmark = pytest.mark.skipif(not ANSIBLE.exists(), reason="ansible is not installed next to this Python")

CASES = {
    # name: (current before, version, bad releases, extra args, extra flags)
    "success": ("1.0.0", "1.1.0", (), {}, ()),
    "restored": ("1.0.0", "1.1.0", ("1.1.0",), {}, ()),
    "keep": ("1.0.0", "1.1.0", ("1.1.0",), {"on_failure": "keep"}, ()),
    "missing": ("1.0.0", "9.9.9", (), {}, ()),
    "check": ("1.0.0", "1.1.0", (), {}, ("--check",)),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    with ExitStack() as stack:
        specs = {}
        for name, (before, version, bad, extra, flags) in CASES.items():
            base = tmp_path_factory.mktemp(name)
            root = base / "app"
            for v in ("1.0.0", "1.1.0"):
                stage(root, v)
            os.symlink(f"releases/{before}", root / "current")
            argv, log = reload_script(base, root)
            server = stack.enter_context(HealthServer(root))
            for v in bad:
                server.bad(v)
            args = {"root": str(root), "version": version, "reload_command": argv,
                    "health_url": server.url, "health_interval": 0.05,
                    "health_timeout": 1.0 if bad else 15.0,
                    **extra}
            specs[name] = (root, log, server, args, flags)
        with ThreadPoolExecutor(max_workers=len(specs)) as pool:
            futures = {name: pool.submit(ansible, "release_switch", args, *flags)
                       for name, (_, _, _, args, flags) in specs.items()}
            results = {name: future.result() for name, future in futures.items()}
        yield {name: (*results[name], *specs[name][:3]) for name in specs}


def test_success(runs):
    rc, host, root, log, server = runs["success"]
    assert rc == 0, host.get("msg")
    assert host["changed"] is True and host["switched"] is True and host["restored"] is False
    assert (host["previous"], host["current"]) == ("1.0.0", "1.1.0")
    assert host["health"] == healthy_body("1.1.0")
    assert isinstance(host["elapsed"], float)
    assert os.readlink(root / "current") == "releases/1.1.0"
    assert reloads(log) == ["releases/1.1.0"]
    assert not os.path.lexists(root / "current.next")


def test_restored_failure(runs):
    rc, host, root, log, server = runs["restored"]
    assert rc != 0 and host["failed"] is True
    assert host["msg"] == (f"{server.url}: release 1.1.0 reported itself unhealthy 5 times in a row (last: "
                           "HTTP 503, reason: schema behind: version 1, expected 2); restored "
                           "current to 1.0.0, which is healthy again")
    assert host["restored"] is True
    assert (host["previous"], host["current"]) == ("1.0.0", "1.0.0")
    assert host["health"]["status"] == "fail"
    assert os.readlink(root / "current") == "releases/1.0.0"
    assert reloads(log) == ["releases/1.1.0", "releases/1.0.0"]


def test_keep(runs):
    rc, host, root, log, server = runs["keep"]
    assert rc != 0 and host["restored"] is False
    assert host["msg"].endswith("current left at 1.1.0 (on_failure=keep)")
    assert os.readlink(root / "current") == "releases/1.1.0"


def test_missing_release_refused(runs):
    rc, host, root, log, server = runs["missing"]
    assert rc != 0 and host["changed"] is False
    assert host["msg"] == (f"release 9.9.9 is not staged on this host: {root}/releases/9.9.9/"
                           "release.json is missing; nothing changed")
    assert os.readlink(root / "current") == "releases/1.0.0"
    assert reloads(log) == [] and server.seen == []


def test_check_mode(runs):
    rc, host, root, log, server = runs["check"]
    assert rc == 0, host.get("msg")
    assert host["changed"] is True and host["switched"] is True and host["health"] is None
    assert os.readlink(root / "current") == "releases/1.0.0"
    assert reloads(log) == [] and server.seen == []
