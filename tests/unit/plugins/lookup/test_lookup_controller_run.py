"""controller_run: a run id names one process, alive only while that very process runs."""
import os
import socket
import subprocess

import pytest
from plugins.lookup.controller_run import alive, run_id, start_ticks

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
