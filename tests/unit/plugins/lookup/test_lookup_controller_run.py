"""controller_run: a run id names one process, alive only while that very process runs."""
import os
import socket
import subprocess
import time

import pytest
from plugins.lookup.controller_run import alive, live_runs, run_id, start_ticks

HOST = socket.gethostname()


def test_this_process_is_alive_under_its_own_run_id():
    assert alive(run_id(HOST, os.getpid()), HOST) is True


def test_a_finished_process_is_dead():
    child = subprocess.Popen(["sleep", "0"])
    finished = run_id(HOST, child.pid)
    child.wait()
    assert alive(finished, HOST) is False


def test_a_reused_pid_with_another_start_time_is_not_the_same_run():
    ticks = start_ticks(os.getpid())
    assert alive(f"{HOST}-{os.getpid()}-{ticks + 1}", HOST) is False


def test_a_run_of_another_controller_is_never_judged_alive_here():
    assert alive(run_id(HOST, os.getpid()).replace(HOST, "elsewhere", 1), HOST) is False


@pytest.mark.parametrize("bad", ["", "nonsense", f"{HOST}-notapid-1", None])
def test_a_malformed_run_id_is_not_alive(bad):
    assert alive(bad, HOST) is False


def test_live_runs_lists_every_running_ansible_playbook_and_nothing_else():
    child = subprocess.Popen(["ansible-playbook", "30"], executable="sleep")  # named like a run
    try:
        deadline = time.monotonic() + 5
        while run_id(HOST, child.pid) not in live_runs(HOST) and time.monotonic() < deadline:
            time.sleep(0.05)
        runs = live_runs(HOST)
        assert run_id(HOST, child.pid) in runs
        assert run_id(HOST, os.getpid()) not in runs  # pytest is no ansible-playbook
    finally:
        child.kill()
        child.wait()
    assert run_id(HOST, child.pid) not in live_runs(HOST)
