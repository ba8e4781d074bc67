#!/usr/bin/env python3
"""Benchmark: deploy and rollback on the local environment, under load, against Ansible's floor.

In one run, against the `make up` environment: a no-op playbook (one ping per host: the floor
Ansible itself costs), deploys of new releases, rollbacks, and a release that fails after its
switch (the time from its failing health check to every host serving the previous release). A load
generator sends requests through the load balancer throughout; failed requests are counted.
Prints median, min and max of each, and the ratios to the floor.

Targets (issue 4): rollback <= 3x floor, failure-to-previous < 15 s, zero failed requests.
usage: bench/deploy.py [--rounds 3] [--url http://127.0.0.1:8080]
"""
import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "molecule", "resources", "tests"))
from load_generator import LoadGenerator  # noqa: E402

PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
WEB = ("web1", "web2")


def builder():
    spec = importlib.util.spec_from_file_location("build_release", os.path.join(REPO, "tools", "build_release.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def release(tmp, version, index_code=None):
    source = os.path.join(tmp, f"app-{version}")
    shutil.copytree(os.path.join(REPO, "app"), source)
    if index_code:
        path = os.path.join(source, "public", "index.php")
        marker = "declare(strict_types=1);\n"
        with open(path, encoding="utf-8") as handle:
            text = handle.read().replace(marker, marker + index_code + "\n", 1)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    artifact, digest = builder().build(source, "stackguard-app", version, os.path.join(tmp, "out"))
    return json.dumps({"stackguard_app_release": {"version": version, "artifact": artifact, "sha256": digest}})


def playbook(name, *extra, ok=True):
    start = time.monotonic()
    result = subprocess.run([PLAYBOOK, os.path.join(REPO, name), *extra], cwd=REPO, capture_output=True,
                            text=True, env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg")))
    elapsed = time.monotonic() - start
    if (result.returncode == 0) != ok:
        sys.exit(f"bench: {name} {'failed' if ok else 'did not fail'}:\n{result.stdout[-3000:]}")
    return elapsed


def serving(host):
    out = subprocess.run(["docker", "exec", f"sg-local-{host}", "readlink", "/srv/stackguard-app/current"],
                         capture_output=True, text=True).stdout.strip()
    return os.path.basename(out)


def watch_failover(bad, previous, result):
    """From the moment a host serves the bad release to every host serving the previous one."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and bad not in {serving(h) for h in WEB}:
        time.sleep(0.05)
    seen_bad = time.monotonic()
    while time.monotonic() < deadline and {serving(h) for h in WEB} != {previous}:
        time.sleep(0.05)
    result["seconds"] = time.monotonic() - seen_bad


def row(name, values, floor):
    median = statistics.median(values)
    return f"{name:<26}{median:>9.2f}{min(values):>8.2f}{max(values):>8.2f}{median / floor:>9.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="stackguard-bench-")
    stamp = int(time.time())
    samples = {"no-op playbook (floor)": [], "deploy (new release)": [], "rollback": []}
    failover = []
    with LoadGenerator(args.url, max_seconds=3600) as load:
        playbook("bench/noop.yml")  # warm up
        for round_ in range(args.rounds):
            samples["no-op playbook (floor)"].append(playbook("bench/noop.yml"))
            samples["deploy (new release)"].append(playbook("playbooks/deploy.yml", "-e", release(tmp, f"9.{stamp}.{round_}")))
            samples["rollback"].append(playbook("playbooks/rollback.yml"))
        previous = serving("web1")
        breaks_live_on_web2 = (
            "if (gethostname() === 'web2' && ($_SERVER['SERVER_PORT'] ?? '') === '80'"
            " && parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH) === '/healthz') {"
            " http_response_code(503); exit; }")
        bad = f"9.{stamp}.99"
        artifact = release(tmp, bad, breaks_live_on_web2)
        result = {}
        watcher = threading.Thread(target=watch_failover, args=(bad, previous, result))
        watcher.start()
        playbook("playbooks/deploy.yml", "-e", artifact, ok=False)
        watcher.join()
        failover.append(result["seconds"])
    floor = statistics.median(samples["no-op playbook (floor)"])
    print(f"local environment (lb1, web1, web2, db1), {args.rounds} rounds, serial 1, forks from ansible.cfg")
    print(f"{'what':<26}{'median s':>9}{'min s':>8}{'max s':>8}{'x floor':>9}")
    for name, values in samples.items():
        print(row(name, values, floor))
    print(f"{'failure -> all previous':<26}{failover[0]:>9.2f}   (a release failing on web2 after its switch)")
    print(f"requests through the load balancer: {load.requests}, failed: {len(load.failures)}")
    rollback_ratio = statistics.median(samples["rollback"]) / floor
    print(f"targets: rollback {rollback_ratio:.2f}x <= 3x {'PASS' if rollback_ratio <= 3 else 'ABOVE'}; "
          f"failover {failover[0]:.1f}s < 15s {'PASS' if failover[0] < 15 else 'ABOVE'}; "
          f"failed requests {len(load.failures)} {'PASS' if not load.failures else 'ABOVE'}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
