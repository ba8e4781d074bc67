"""release_switch with a load balancer: the host drains itself through the real lb agent.

The releases, /healthz server and reload script are test_release_switch's; the agent and the
HAProxy-like poller are test_lb_agent's. The reload script also stamps the time it ran, so each
test can ask what the balancer had applied at that moment.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ansible.module_utils.lb_agent import Agent, read_state
from ansible.module_utils.release_switch import SwitchError
from tests.unit.plugins.module_utils.test_lb_agent import agent  # noqa: F401 (fixture)
from tests.unit.plugins.module_utils.test_release_switch import (
    FAST, HealthServer, http_probe, runner, stage, switch)

LB = ["127.0.0.1"]


def timed_reload(tmp_path: Path):
    log, script = tmp_path / "reload-times.log", tmp_path / "reload-timed.sh"
    script.write_text(f'#!/bin/sh\ndate +%s.%N >> "{log}"\nexit 0\n')
    script.chmod(0o755)
    return [str(script)], log


def reload_times(log: Path):
    return [float(line) for line in log.read_text().split()] if log.exists() else []


@pytest.fixture
def site(tmp_path, agent):  # noqa: F811 (the imported fixture)
    directory, start_poller, _ = agent
    root = tmp_path / "app"
    for version in ("1.0.0", "1.1.0"):
        stage(root, version)
    os.symlink("releases/1.0.0", root / "current")
    argv, log = timed_reload(tmp_path)
    with HealthServer(root) as server:
        yield root, server, argv, log, directory, start_poller


def run(site, version, pollers=LB, timeout=5.0, **options):
    root, server, argv, _, directory, _ = site
    return switch(str(root), version, runner(argv), http_probe, reload_command=argv,
                  health_url=server.url, balancer=Agent(str(directory), pollers, timeout),
                  **{**FAST, **options})


def test_drained_before_the_switch_and_back_after(site):
    root, _, _, log, directory, start_poller = site
    poller = start_poller()
    result = run(site, "1.1.0")
    returned = time.time()
    assert result["switched"] and result["drained_by"] == LB
    (reloaded,) = reload_times(log)
    assert poller.word_at(reloaded) == "drain"  # no new request reached the host mid-switch
    assert poller.word_at(returned) == "ready"  # and it was back before the call returned
    assert read_state(str(directory)) == "ready"
    assert os.readlink(root / "current") == "releases/1.1.0"


def test_balancer_not_listening_changes_nothing(site):
    root, _, _, log, directory, _ = site
    with pytest.raises(SwitchError, match=r"could not take the host out of the load balancer: "
                                          r"load balancer\(s\) 127.0.0.1 did not apply 'drain'.*"
                                          r"current is unchanged") as raised:
        run(site, "1.1.0", timeout=0.3)
    assert raised.value.result["switched"] is False and raised.value.result["current"] == "1.0.0"
    assert os.readlink(root / "current") == "releases/1.0.0"
    assert reload_times(log) == []
    assert read_state(str(directory)) == "ready"


def test_failed_release_restored_and_host_back_in(site):
    root, server, _, log, directory, start_poller = site
    poller = start_poller()
    server.bad("1.1.0")
    with pytest.raises(SwitchError, match="restored current to 1.0.0, which is healthy again$"):
        run(site, "1.1.0", health_timeout=0.5)
    first, second = reload_times(log)
    assert poller.word_at(first) == poller.word_at(second) == "drain"
    assert poller.word_at(time.time()) == "ready"
    assert os.readlink(root / "current") == "releases/1.0.0"


def test_host_stays_drained_when_the_restored_release_is_unhealthy_too(site):
    root, server, _, _, directory, start_poller = site
    start_poller()
    server.bad("1.1.0")
    server.bad("1.0.0")
    with pytest.raises(SwitchError, match="restored current to 1.0.0, but it is not healthy either"):
        run(site, "1.1.0", health_timeout=0.5)
    assert read_state(str(directory)) == "drain"


def test_host_already_on_the_release_is_not_drained(site):
    root, _, _, log, directory, _ = site
    os.unlink(root / "current")
    os.symlink("releases/1.1.0", root / "current")
    result = run(site, "1.1.0", timeout=0.3)  # no poller: draining would fail
    assert result["switched"] is False and "drained_by" not in result
    assert reload_times(log) == [] and read_state(str(directory)) == "ready"
