"""bench/runner.py's CpuMeter: the CPU a child process really burns is counted on the controller's
side, and the machine's busy time covers it."""

from __future__ import annotations

import subprocess
import sys

from bench import runner

BURN = "import time\nend = time.process_time() + {seconds}\nwhile time.process_time() < end:\n    pass\n"


def test_a_child_that_burns_cpu_is_counted_on_the_controller():
    with runner.CpuMeter() as meter:
        subprocess.run([sys.executable, "-c", BURN.format(seconds=0.3)], check=True)
    assert 0.3 <= meter.seconds["controller"] < 1.5
    assert meter.seconds["rest"] >= 0.0
    assert meter.seconds["containers"] is None or meter.seconds["containers"] >= 0.0


def test_the_machine_was_busy_at_least_that_long():
    before = runner.machine_cpu_seconds()
    subprocess.run([sys.executable, "-c", BURN.format(seconds=0.3)], check=True)
    # /proc/stat counts in clock ticks (1/100 s here): allow one tick per CPU of rounding.
    assert runner.machine_cpu_seconds() - before >= 0.3 - 0.02


def test_nothing_run_costs_no_controller_time():
    with runner.CpuMeter() as meter:
        pass
    assert meter.seconds["controller"] == 0.0
