#!/usr/bin/python3
"""Run a command in between two runs of stackguard-drift-check, then record when it finished.

    quiet_window.py STAMP_FILE COMMAND [ARG...]

Waits until the check's service is inactive and its next run (the timer's OnUnitActiveSec after
the last start) is at least QUIET seconds away, and until the last run's second is over (the runs
stamp their metrics and state in whole seconds). Then it runs COMMAND, makes sure no run
started meanwhile, and writes the Unix time it finished to STAMP_FILE. A drift made or fixed in
two steps is then never seen half done by a run of the timer, and every run stamped at or after
STAMP_FILE's second started after COMMAND.
"""
import re
import subprocess
import sys
import time

UNIT = "stackguard-drift-check.service"
TIMER_FILE = "/etc/systemd/system/stackguard-drift-check.timer"
QUIET = 8  # seconds the command may take
stamp, argv = sys.argv[1], sys.argv[2:]


def show(*names):
    out = subprocess.run(["systemctl", "show", UNIT, *[f"--property={n}" for n in names]],
                         capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def last_start():
    """(state, monotonic and wall-clock seconds of the last run's start: 0 before any run)."""
    state = show("ActiveState", "InactiveExitTimestampMonotonic")
    monotonic = int(state.get("InactiveExitTimestampMonotonic") or 0) / 1e6
    wall = time.time() - (time.monotonic() - monotonic) if monotonic else 0
    return state.get("ActiveState"), monotonic, wall


with open(TIMER_FILE, encoding="utf-8") as handle:
    interval = int(re.search(r"^OnUnitActiveSec=(\d+)s$", handle.read(), re.M).group(1))
if interval <= QUIET + 6:
    sys.exit(f"the timer runs every {interval} s: too often for a quiet window of {QUIET} s")

deadline = time.monotonic() + 120
while True:
    active, started, started_wall = last_start()
    if active == "inactive" and started and started + interval - time.monotonic() >= QUIET + 2:
        break
    if time.monotonic() > deadline:
        sys.exit(f"{UNIT} left no quiet window within 120 s (state {active})")
    time.sleep(0.1)
# A run stamps its whole second a moment after its start (Python starting up): two whole seconds
# after the start, the command's second is later than the last run's stamp.
while time.time() < int(started_wall) + 2:
    time.sleep(0.05)
proc = subprocess.run(argv, check=False)
if last_start()[1] != started:
    sys.exit(f"a run of {UNIT} started while the command ran: the window was too short")
with open(stamp, "w", encoding="utf-8") as handle:
    handle.write(f"{time.time():.3f}\n")
sys.exit(proc.returncode)
