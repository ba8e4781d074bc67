"""controller_run: a run id names one process, listed as live only while that very process runs.

(Taking over a dead run's lock with these ids is test_deploy_lock's.)"""
import os
import socket
import subprocess
import time

from plugins.lookup.controller_run import live_runs, run_id, start_ticks

HOST = socket.gethostname()


def test_a_run_id_is_host_pid_and_start_time():
    assert run_id(HOST, os.getpid()) == f"{HOST}-{os.getpid()}-{start_ticks(os.getpid())}"


def test_a_reused_pid_with_another_start_time_is_not_a_live_run():
    child = subprocess.Popen(["ansible-playbook", "30"], executable="sleep")  # named like a run
    try:
        deadline = time.monotonic() + 5
        while run_id(HOST, child.pid) not in live_runs(HOST) and time.monotonic() < deadline:
            time.sleep(0.05)
        ticks = start_ticks(child.pid)
        assert f"{HOST}-{child.pid}-{ticks + 1}" not in live_runs(HOST)
    finally:
        child.kill()
        child.wait()


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
