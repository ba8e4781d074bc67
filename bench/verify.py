#!/usr/bin/env python3
"""Benchmark: stack_verify over every host of an inventory against the floor Ansible costs.

Runs, alternately and in the same session, `ansible all -m ping` (the floor: one round trip per
host) and `ansible all -m stack_verify` with each host's pinned manifest, and prints the median,
min and max wall time of each and their ratio. Target: stack_verify at most 1.5x the ping floor.
Needs the environment up (`make up` for the local inventory).

usage: bench/verify.py [--inventory inventories/local/hosts.yml] [--rounds 7]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERIFY_ARGS = ('{"manifest": "{{ lookup(\'stack_manifest\', stackguard_stack.name, '
               'revision=stackguard_stack.revision) }}", "groups": "{{ group_names }}"}')
TARGET = 1.5


def timed(argv):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))
    start = time.monotonic()
    result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if result.returncode != 0:
        sys.exit(f"bench: {' '.join(argv[:4])} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", default="inventories/local/hosts.yml")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    ansible = os.path.join(os.path.dirname(sys.executable), "ansible")
    ping = [ansible, "all", "-i", args.inventory, "-m", "ping"]
    verify = [ansible, "all", "-i", args.inventory, "-m", "stack_verify", "-a", VERIFY_ARGS]
    timed(ping)  # warm caches (facts, connection plugins) before measuring
    samples = {"ping": [], "stack_verify": []}
    for _ in range(args.rounds):
        samples["ping"].append(timed(ping))
        samples["stack_verify"].append(timed(verify))
    floor = statistics.median(samples["ping"])
    print(f"inventory {args.inventory}, {args.rounds} rounds, forks from ansible.cfg")
    print(f"{'what':<14}{'median s':>10}{'min s':>8}{'max s':>8}{'x floor':>9}")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:<14}{median:>10.2f}{min(values):>8.2f}{max(values):>8.2f}{median / floor:>9.2f}")
    ratio = statistics.median(samples["stack_verify"]) / floor
    print(f"stack_verify / ping = {ratio:.2f} (target <= {TARGET}): {'PASS' if ratio <= TARGET else 'ABOVE'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
