#!/usr/bin/env python3
"""Benchmark (issues 4 and 8): deploy, rollback, failover and verify, under load, against the floor.

In one run, against the `make up` environment (or any container environment with --inventory and
--url), each round measures, back to back:
  - the floor: bench/noop.yml (one ping per host, all hosts) right before each of the deploy, the
    rollback and verify.yml, and `ansible all -m ping` right before `ansible all -m stack_verify`;
  - a deploy of a new release with every safety step on (playbooks/deploy.yml);
  - a rollback (playbooks/rollback.yml, to the last known-good release);
  - failover: a release that passes the candidate check but fails on the last web host after its
    switch; the time from that host serving it to every web host serving the previous release
    again (seen by a watcher of `current` on each host);
  - playbooks/verify.yml (against the no-op playbook) and `ansible all -m stack_verify` (against
    the ping).
Each step starts SETTLE_SECONDS after the one before, so none pays for the Apache restarts of the
step before it. A load generator sends requests through the load balancer throughout; every failed
one is counted.
Prints one table (median, min, max of the rounds and the ratio to the floor measured in the same
run) and the targets, and writes <out>/report.json, <out>/deploy-timeline.svg (the phases of the
median deploy per host, from the stackguard_timeline callback), <out>/failover-timeline.svg and
the raw timelines in <out>/timelines/.

usage: bench/deploy.py [--rounds 3] [--inventory inventories/local/hosts.yml]
                       [--url http://127.0.0.1:8080] [--out build/bench] [--serial 1]
"""
import argparse
import datetime
import os
import shutil
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "molecule", "resources", "tests"))
from bench import report, runner, timeline  # noqa: E402
from bench.verify import VERIFY_ARGS  # noqa: E402
from load_generator import LoadGenerator  # noqa: E402

# (issue, what, measured key, how, comparison, limit, unit): `how` is "ratio" (median over its
# floor's median), "median" (seconds) or "count" (failed requests).
TARGETS = (
    (8, "deploy <= 6x the floor", "deploy", "ratio", "<=", 6.0, "x floor"),
    (8, "rollback <= 2x the floor", "rollback", "ratio", "<=", 2.0, "x floor"),
    (8, "failover < 5 s", "failover", "median", "<", 5.0, "s"),
    (8, "failed requests = 0", "failed_requests", "count", "==", 0, "requests"),
    (8, "verify.yml <= 1.5x the floor", "verify_playbook", "ratio", "<=", 1.5, "x floor"),
    (8, "stack_verify <= 1.5x the ping", "stack_verify", "ratio", "<=", 1.5, "x floor"),
    (4, "rollback <= 3x the floor", "rollback", "ratio", "<=", 3.0, "x floor"),
    (4, "failover < 15 s", "failover", "median", "<", 15.0, "s"),
)
LABELS = {
    "floor_playbook": "no-op playbook, all hosts (floor)",
    "deploy": "deploy (new release)",
    "rollback": "rollback",
    "failover": "failover: failing host -> all previous",
    "verify_playbook": "verify.yml",
    "floor_ping": "ansible -m ping, all hosts (floor)",
    "stack_verify": "ansible -m stack_verify",
}
# Every step starts after this pause: a switch restarts Apache's children on the web hosts, and the
# step right after one would otherwise pay for that while the floor, run at calmer moments, did not.
SETTLE_SECONDS = 2.0
FLOORS = {"deploy": "floor_playbook", "rollback": "floor_playbook", "verify_playbook": "floor_playbook",
          "stack_verify": "floor_ping"}


def evaluate(rows, failed_requests):
    by_key = {row["key"]: row for row in rows}
    found = []
    for issue, what, key, how, op, limit, unit in TARGETS:
        if how == "count":
            value = failed_requests
        elif key not in by_key:
            value = None
        else:
            value = by_key[key]["ratio"] if how == "ratio" else by_key[key]["median"]
        found.append(report.target(issue, what, value, op, limit, unit))
    return found


def build_rows(samples):
    rows = {}
    for key in ("floor_playbook", "floor_ping"):
        rows[key] = report.measurement(key, LABELS[key], samples[key])
    for key in ("deploy", "rollback", "failover", "verify_playbook", "stack_verify"):
        if samples[key]:
            rows[key] = report.measurement(key, LABELS[key], samples[key],
                                           floor=rows[FLOORS[key]] if key in FLOORS else None)
    order = ("floor_playbook", "deploy", "rollback", "failover", "verify_playbook", "floor_ping", "stack_verify")
    return [rows[key] for key in order if key in rows]


def failures_by_step(failures, steps):
    """{step: count} of failed requests, by the step running when each was sent."""
    counts = {}
    for failure in failures:
        step = next((name for name, start, end in steps if start <= failure["at"] <= end), "between steps")
        counts[step] = counts.get(step, 0) + 1
    return counts


def chart(path, records, title, hosts, watcher, start, end):
    markers = [{"host": change["host"], "time": change["time"],
                "label": f"{change['host']}: current -> {change['version']}"}
               for change in watcher.changes(start, end)]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(timeline.render_svg(records, title, hosts=hosts, markers=markers))


def ansible_core_version():
    try:
        from ansible.release import __version__
        return __version__
    except ImportError:
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--inventory", default="inventories/local/hosts.yml")
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the load balancer, for the load")
    parser.add_argument("--out", default=os.path.join(REPO, "build", "bench"))
    parser.add_argument("--serial", default=None, help="app_deploy_serial (default: the playbooks', 1)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    inventory_path = os.path.abspath(args.inventory)
    try:
        inv = runner.inventory(inventory_path)
    except runner.BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    web, everyone = inv["groups"].get("web", []), inv["groups"].get("all", [])
    if len(web) < 2:
        parser.error(f"{args.inventory} has {len(web)} web host(s); the bench needs at least two")
    missing = runner.missing_containers(inv)
    if missing:
        print(f"bench: no running container for {', '.join(f'{h} ({c})' for h, c in missing.items())} of "
              f"{args.inventory}: bring the environment up first (`make up` for the local one)", file=sys.stderr)
        return 1
    containers = {host: inv["hostvars"].get(host, {}).get("ansible_host", host) for host in web}
    failing = web[-1]
    serial = ["-e", f"app_deploy_serial={args.serial}"] if args.serial else []
    os.makedirs(os.path.join(args.out, "timelines"), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="stackguard-bench-")
    stamp = int(time.time())
    samples = {key: [] for key in LABELS}
    deploys, failing_runs, steps = [], [], []
    load_start = os.getloadavg()

    def step(name, run, round_):
        time.sleep(SETTLE_SECONDS)
        started = time.time()
        seconds = run()
        steps.append((f"{name} (round {round_ + 1})", started, time.time()))
        return seconds, started, time.time()

    def floor(round_):
        """One no-op run, right before a playbook whose ratio uses it (three a round: a steadier
        median, taken at the same points of the round as what it is compared with)."""
        samples["floor_playbook"].append(step("no-op", lambda: runner.playbook(
            "bench/noop.yml", inventory=inventory_path), round_)[0])

    try:
        with LoadGenerator(args.url, max_seconds=7200) as load, runner.CurrentWatcher(containers) as watcher:
            runner.playbook("bench/noop.yml", inventory=inventory_path)  # warm caches before measuring
            for round_ in range(args.rounds):
                print(f"round {round_ + 1}/{args.rounds} ...", flush=True)
                good = runner.release(tmp, f"9.{stamp}.{round_}")
                bad = f"9.{stamp}.{round_}-fails"
                bad_release = runner.release(tmp, bad, runner.failing_after_switch(failing))
                floor(round_)
                path = os.path.join(args.out, "timelines", f"deploy-{round_ + 1}.jsonl")
                seconds, started, ended = step("deploy", lambda: runner.playbook(
                    "playbooks/deploy.yml", "-e", good, *serial, inventory=inventory_path, timeline=path), round_)
                samples["deploy"].append(seconds)
                deploys.append((seconds, path, started, ended))
                floor(round_)
                path = os.path.join(args.out, "timelines", f"rollback-{round_ + 1}.jsonl")
                samples["rollback"].append(step("rollback", lambda: runner.playbook(
                    "playbooks/rollback.yml", *serial, inventory=inventory_path, timeline=path), round_)[0])
                time.sleep(0.3)  # the watcher polls every 50 ms
                serving = watcher.serving()
                previous = serving[failing]
                if set(serving.values()) != {previous}:
                    raise runner.BenchError(f"after the rollback the web hosts serve different releases: {serving}")
                path = os.path.join(args.out, "timelines", f"failover-{round_ + 1}.jsonl")
                _, started, ended = step("failing deploy", lambda: runner.playbook(
                    "playbooks/deploy.yml", "-e", bad_release, *serial, inventory=inventory_path, ok=False,
                    timeline=path), round_)
                time.sleep(0.3)
                failover = runner.failover_seconds(watcher.events, failing, bad, previous)
                if failover is None:
                    raise runner.BenchError(
                        f"release {bad} never went live on {failing}, or the web hosts did not all return to "
                        f"{previous}: {watcher.changes(started)}")
                samples["failover"].append(failover)
                failing_runs.append((failover, path, started, ended))
                floor(round_)
                samples["verify_playbook"].append(step("verify.yml", lambda: runner.playbook(
                    "playbooks/verify.yml", inventory=inventory_path), round_)[0])
                samples["floor_ping"].append(step("ping", lambda: runner.adhoc(
                    "all", "ping", inventory=inventory_path), round_)[0])
                samples["stack_verify"].append(step("stack_verify", lambda: runner.adhoc(
                    "all", "stack_verify", VERIFY_ARGS, inventory=inventory_path), round_)[0])
            requests, failures = load.requests, list(load.failures)
            # The median deploy and the median failover, drawn from their timelines.
            median_deploy = sorted(deploys)[(len(deploys) - 1) // 2]
            median_failover = sorted(failing_runs)[(len(failing_runs) - 1) // 2]
            deploy_svg = os.path.join(args.out, "deploy-timeline.svg")
            deploy_records = timeline.load(median_deploy[1])
            chart(deploy_svg, deploy_records,
                  f"deploy of a new release, {len(web)} web hosts, serial {args.serial or 1} "
                  f"({median_deploy[0]:.1f} s, the median of {args.rounds})", everyone, watcher,
                  median_deploy[2], median_deploy[3])
            failover_svg = os.path.join(args.out, "failover-timeline.svg")
            failover_records = timeline.load(median_failover[1])
            chart(failover_svg, failover_records,
                  f"deploy of a release failing on {failing} after its switch (failover {median_failover[0]:.1f} s)",
                  everyone, watcher, median_failover[2], median_failover[3])
    except runner.BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load_end = os.getloadavg()

    rows = build_rows(samples)
    targets = evaluate(rows, len(failures))
    forks = runner.configured_forks()
    print()
    print(f"{args.inventory}: {len(everyone)} hosts ({len(web)} web), {args.rounds} rounds, forks {forks}, "
          f"serial {args.serial or 1}, ansible-core {ansible_core_version()}")
    print(f"load average {load_start[0]:.1f} at the start, {load_end[0]:.1f} at the end, on {os.cpu_count()} "
          f"CPUs: with other work on the machine the figures are noisy (compare ratios, not seconds)")
    for line in report.format_table(rows):
        print(line)
    print(f"requests through the load balancer: {requests}, failed: {len(failures)}")
    for line in report.format_targets(targets):
        print(line)
    deploy_summary = timeline.summary(deploy_records)
    print("phases of the median deploy (s while any host was in it): " + ", ".join(
        f"{phase} {entry['span']:.1f}" for phase, entry in deploy_summary["phases"].items()))
    data = {
        "kind": "stackguard deploy bench",
        "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "inventory": args.inventory, "url": args.url, "rounds": args.rounds, "forks": forks,
        "serial": args.serial or 1, "hosts": everyone, "web": web, "failing_host": failing,
        "ansible_core": ansible_core_version(), "cpus": os.cpu_count(),
        "load_average": {"start": list(load_start), "end": list(load_end)},
        "measurements": rows, "targets": targets,
        "requests": {"total": requests, "failed": len(failures),
                     "failed_by_step": failures_by_step(failures, steps), "first_failures": failures[:10]},
        "timeline": {"svg": deploy_svg, "source": median_deploy[1], "summary": deploy_summary},
        "failover_timeline": {"svg": failover_svg, "source": median_failover[1],
                              "summary": timeline.summary(failover_records)},
    }
    path = os.path.join(args.out, "report.json")
    report.write_json(path, data)
    print(f"written: {path}, {deploy_svg}, {failover_svg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
