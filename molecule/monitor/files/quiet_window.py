#!/usr/bin/python3
"""Run a command in between two runs of stackguard-drift-check, then record when it finished.

    quiet_window.py STAMP_FILE COMMAND [ARG...]

Waits until the check's service is inactive and its last run ended under 3 s ago (so the next
one is an interval away), runs COMMAND, and writes the Unix time it finished to STAMP_FILE. A
drift made or fixed in two steps is then never seen half done by a run of the timer.
"""
import subprocess
import sys
import time

UNIT = "stackguard-drift-check.service"
stamp, argv = sys.argv[1], sys.argv[2:]


def show(*names):
    out = subprocess.run(["systemctl", "show", UNIT, *[f"--property={n}" for n in names]],
                         capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


deadline = time.monotonic() + 120
while True:
    state = show("ActiveState", "InactiveEnterTimestampMonotonic")
    ended = int(state.get("InactiveEnterTimestampMonotonic") or 0) / 1e6
    if state.get("ActiveState") == "inactive" and ended and time.monotonic() - ended < 3:
        break
    if time.monotonic() > deadline:
        sys.exit(f"{UNIT} did not run within 120 s: {state}")
    time.sleep(0.1)
proc = subprocess.run(argv, check=False)
with open(stamp, "w", encoding="utf-8") as handle:
    handle.write(f"{time.time():.3f}\n")
sys.exit(proc.returncode)
