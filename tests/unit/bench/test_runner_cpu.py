"""bench/runner.py's CpuMeter: the CPU a child process really burns is counted on the controller's
side, and the machine's busy time covers it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

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


def test_the_sampler_sees_a_burning_child_in_its_span_and_not_outside():
    with runner.CpuSampler(interval=0.05) as sampler:
        idle_start = time.time()
        time.sleep(0.3)
        idle_end = burn_start = time.time()
        subprocess.run([sys.executable, "-c", BURN.format(seconds=0.4)], check=True)
        burn_end = time.time()
    assert len(sampler.samples) >= 8
    assert sampler.busy(burn_start, burn_end) >= 0.4 - 0.1  # ticks and the samples' edges
    # the idle span: far less than a CPU busy (other work on this machine may run)
    assert sampler.busy(idle_start, idle_end) < sampler.busy(burn_start, burn_end)
    share = sampler.share([(burn_start, burn_end)])
    assert 0.7 / os.cpu_count() <= share <= 1.01  # one CPU of os.cpu_count() burning, at least
    assert sampler.share([(burn_start, burn_start)]) is None


def test_the_sampler_interpolates_between_samples_and_clamps_at_the_ends():
    sampler = runner.CpuSampler()
    sampler.samples = [(10.0, 100.0), (11.0, 101.0), (12.0, 103.0)]
    assert sampler.busy(10.5, 11.5) == pytest.approx(1.5)
    assert sampler.busy(0.0, 99.0) == pytest.approx(3.0)
    assert sampler.share([(10.0, 12.0)], cpus=2) == pytest.approx(0.75)
    with pytest.raises(runner.BenchError, match="no samples"):
        runner.CpuSampler().busy(0.0, 1.0)
