"""A web host takes itself out of the load balancer and puts itself back, with no call to the lb.

HAProxy's agent check (``agent-check agent-port ... agent-inter ...`` on each server line) connects
to a small agent on every web host and reads one word: ``ready`` or ``drain``. The agent
(roles/lb_agent) answers with the word in ``<dir>/state`` and, once the load balancer has closed
the connection, records the word it answered in ``<dir>/polled.<lb address>``, so the host knows
when each load balancer has applied the word it wrote. Draining is therefore done on the web host itself, inside the
same module call that switches the release: no round trip to the load balancer, and no admin
socket on the network.

``set_state`` writes the word atomically; ``wait_polled`` waits until `pollers` load balancers
applied a word in checks completed after a moment.
"""
import glob
import os
import time

from ansible.module_utils.file_paths import make_dirs, write_atomically

STATES = ("ready", "drain")
STATE_FILE = "state"
POLLED_PREFIX = "polled."


class AgentError(Exception):
    pass


def read_state(directory):
    """The word the agent answers now (ready when it has none)."""
    try:
        with open(os.path.join(directory, STATE_FILE), encoding="ascii") as handle:
            word = handle.read().strip()
    except FileNotFoundError:
        return "ready"
    return word if word in STATES else "ready"


def set_state(directory, state):
    """Write the agent's answer with one rename; returns the previous answer."""
    if state not in STATES:
        raise AgentError(f"agent state must be one of {', '.join(STATES)}, not {state!r}")
    previous = read_state(directory)
    make_dirs(directory)
    write_atomically(os.path.join(directory, STATE_FILE), state + "\n", 0o644)
    return previous


def polls_since(directory, moment, word):
    """The load balancers that applied `word` in a check completed after `moment` (time.time())."""
    seen = []
    for path in glob.glob(os.path.join(directory, POLLED_PREFIX + "*")):
        try:
            if os.stat(path).st_mtime <= moment:
                continue
            with open(path, encoding="ascii") as handle:
                if handle.read().strip() == word:
                    seen.append(os.path.basename(path)[len(POLLED_PREFIX):])
        except (FileNotFoundError, UnicodeDecodeError):
            continue
    return sorted(seen)


def wait_polled(directory, moment, pollers, word, timeout, interval=0.02, clock=time.monotonic,
                sleep=time.sleep):
    """Wait until every load balancer address in `pollers` applied `word` after `moment`:
    (done, the addresses of those that did)."""
    wanted = set(pollers)
    if not wanted:
        return True, []
    deadline = clock() + timeout
    while True:
        seen = [address for address in polls_since(directory, moment, word) if address in wanted]
        if len(seen) == len(wanted):
            return True, seen
        if clock() >= deadline:
            return False, seen
        sleep(interval)


class Agent:
    """What release_switch needs: leave the balancer, come back; each waits for the lbs' polls.

    `pollers` are the load balancers' addresses as the web host sees them: only their checks count,
    not any other connection to the agent's port."""

    def __init__(self, directory, pollers, timeout=5.0, wall=time.time, **wait):
        self.directory, self.pollers, self.timeout = directory, pollers, timeout
        self.wall, self.wait = wall, wait

    def _set_and_wait(self, state):
        # The agent records a check's answer only once the load balancer closed the connection,
        # i.e. applied it, and it reads the state after the moment it was asked: a record newer
        # than this moment (taken after the write) holding the new word means it was applied.
        # File times come from the kernel's coarse clock, never ahead of time.time(): a check can
        # only be missed (one more is awaited), never counted wrongly.
        set_state(self.directory, state)
        moment = self.wall()
        done, seen = wait_polled(self.directory, moment, self.pollers, state, self.timeout,
                                 **self.wait)
        if not done:
            missing = sorted(set(self.pollers) - set(seen))
            raise AgentError(
                f"load balancer(s) {', '.join(missing)} did not apply '{state}' from the agent in "
                f"{self.directory} within {self.timeout:g}s: is their agent-check configured, "
                f"stackguard-lb-agent running, and do they reach this host from those addresses?")
        return seen

    def drain(self):
        return self._set_and_wait("drain")

    def ready(self):
        return self._set_and_wait("ready")
