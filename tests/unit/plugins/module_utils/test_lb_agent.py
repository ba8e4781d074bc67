"""lb_agent: a web host drains itself, against the real agent and a poller that acts like HAProxy.

The agent is roles/lb_agent's own program (its template, with the one Jinja line dropped), run on
an ephemeral port. The poller does what HAProxy's agent check does: connect, send the greeting,
read one word, close with a reset, every POLL seconds; it logs each word it applied.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ansible.module_utils.lb_agent import (
    Agent, AgentError, polls_since, read_state, set_state, wait_polled)

REPO = Path(__file__).resolve().parents[4]
TEMPLATE = REPO / "roles/lb_agent/templates/usr/local/sbin/stackguard-lb-agent.j2"
POLL = 0.05


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Poller:
    """HAProxy's agent check in miniature: the words it applied, with when it applied them."""

    def __init__(self, port):
        self.port, self.applied, self.running = port, [], True
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def check(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
            conn.sendall(b"stackguard\n")
            word = conn.recv(64).decode().strip()
            self.applied.append((time.time(), word))
            # HAProxy closes its checks with a reset (no TIME_WAIT).
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def loop(self):
        while self.running:
            try:
                self.check()
            except OSError:
                pass
            time.sleep(POLL)

    def word_at(self, moment):
        """The word the balancer had applied last at `moment`."""
        words = [word for at, word in self.applied if at <= moment]
        return words[-1] if words else None


@pytest.fixture
def agent(tmp_path):
    """(state directory, a poller started on demand, the agent's port)."""
    program = tmp_path / "stackguard-lb-agent"
    text = TEMPLATE.read_text().replace("{{ ansible_managed | comment }}", "# test copy")
    assert "{{" not in text and "{%" not in text, "the agent template grew Jinja the test does not render"
    program.write_text(text)
    directory, port = tmp_path / "agent", free_port()
    directory.mkdir()
    process = subprocess.Popen([sys.executable, str(program), str(directory), str(port)])
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "the agent did not start listening"
            time.sleep(0.05)
    pollers = []

    def start_poller():
        poller = Poller(port)
        poller.thread.start()
        pollers.append(poller)
        return poller

    yield directory, start_poller, port
    for poller in pollers:
        poller.running = False
    process.terminate()
    process.wait(timeout=5)


def test_state_defaults_to_ready_and_is_written_whole(tmp_path):
    directory = tmp_path / "agent"
    assert read_state(str(directory)) == "ready"
    assert set_state(str(directory), "drain") == "ready"
    assert (directory / "state").read_text() == "drain\n"
    assert oct((directory / "state").stat().st_mode & 0o777) == "0o644"
    assert set_state(str(directory), "ready") == "drain"
    assert [p.name for p in directory.iterdir()] == ["state"]  # no temporary file left


def test_unknown_state_refused(tmp_path):
    with pytest.raises(AgentError, match="one of ready, drain"):
        set_state(str(tmp_path), "maint")
    assert not (tmp_path / "state").exists()


def test_polls_count_only_newer_records_of_the_word(tmp_path):
    old = time.time() - 10
    (tmp_path / "polled.10.0.0.1").write_text("drain\n")
    (tmp_path / "polled.10.0.0.2").write_text("ready\n")
    (tmp_path / "polled.10.0.0.3").write_text("drain\n")
    os.utime(tmp_path / "polled.10.0.0.3", (old, old))
    assert polls_since(str(tmp_path), old + 1, "drain") == ["10.0.0.1"]
    assert polls_since(str(tmp_path), old + 1, "ready") == ["10.0.0.2"]


def test_wait_gives_up_and_says_who_answered(tmp_path):
    (tmp_path / "polled.10.0.0.1").write_text("drain\n")
    (tmp_path / "polled.10.9.9.9").write_text("drain\n")  # not a load balancer: a port probe
    done, seen = wait_polled(str(tmp_path), time.time() - 5, ["10.0.0.1", "10.0.0.2"], "drain",
                             timeout=0.2)
    assert (done, seen) == (False, ["10.0.0.1"])
    assert wait_polled(str(tmp_path), time.time() - 5, ["10.0.0.1"], "drain", timeout=0) == \
        (True, ["10.0.0.1"])
    assert wait_polled(str(tmp_path), time.time(), [], "drain", timeout=0) == (True, [])


def test_drain_returns_once_the_balancer_applied_it(agent):
    directory, start_poller, _ = agent
    poller = start_poller()
    seen = Agent(str(directory), pollers=["127.0.0.1"], timeout=5).drain()
    returned = time.time()
    assert seen == ["127.0.0.1"]
    assert poller.word_at(returned) == "drain"
    assert (directory / "polled.127.0.0.1").read_text() == "drain\n"
    Agent(str(directory), pollers=["127.0.0.1"], timeout=5).ready()
    assert poller.word_at(time.time()) == "ready"


def test_no_balancer_polling_is_an_error_naming_the_cause(agent):
    directory, _, port = agent
    started = time.monotonic()
    socket.create_connection(("127.0.0.1", port), timeout=1).close()  # a probe is no check
    with pytest.raises(AgentError, match=r"load balancer\(s\) 127.0.0.1 did not apply 'drain' .*"
                                         r"within 0.3s: is their agent-check configured"):
        Agent(str(directory), pollers=["127.0.0.1"], timeout=0.3).drain()
    assert time.monotonic() - started < 2


def test_two_balancers_must_both_apply(agent):
    directory, start_poller, _ = agent
    start_poller()
    with pytest.raises(AgentError, match=r"load balancer\(s\) 127.0.0.2 did not apply"):
        Agent(str(directory), pollers=["127.0.0.1", "127.0.0.2"], timeout=0.5).drain()
