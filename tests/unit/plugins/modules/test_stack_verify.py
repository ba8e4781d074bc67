"""The stack_verify module through real Ansible, on this machine as localhost.

Each case is one ``ansible localhost -c local -i localhost, -m stack_verify -a '<json>'`` run with
the repository's ansible.cfg, the json stdout callback and an in-memory fact cache. The manifests
are synthetic: an ``lb`` slice pinning packages really installed here (bash, dpkg, coreutils) at
the versions dpkg-query reports, and HAProxy 2.2.9, which this machine does not run. So the drift
is known in advance: a hold item for each pinned package apt-mark does not list as held here, and
the haproxy runtime. The runs start together, once per test module. Read-only.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.unit.ansible_adhoc import ansible, direct, requires_ansible_and_dpkg

pytestmark = requires_ansible_and_dpkg


def version(package):
    return direct("dpkg-query", "-W", "-f", "${Version}", package)


BASH, DPKG, COREUTILS = version("bash"), version("dpkg"), version("coreutils")


def _haproxy_here():
    binary = shutil.which("haproxy")
    if not binary:
        return "not installed"
    from ansible.module_utils.stack_facts import parse_haproxy_version
    return parse_haproxy_version(direct(binary, "-v")) or "not installed"


HAPROXY = _haproxy_here()


def manifest(packages, **extra):
    return {"name": "synthetic", "revision": 3, "packages": {"lb": packages},
            "runtime": {"haproxy": "2.2.9"}, "services": {"lb": []}, **extra}


def item(kind, name, expected, actual):
    return {"kind": kind, "name": name, "expected": expected, "actual": actual}


def holds(held, *names):
    return [item("hold", n, "held", "not held") for n in sorted(names) if n not in held]


def expected(held):
    return holds(held, "bash") + [item("runtime", "haproxy", "2.2.9", HAPROXY)]


def expected_summary(held):
    return ("2 drift items from synthetic@3: hold bash, runtime haproxy" if "bash" not in held
            else "1 drift item from synthetic@3: runtime haproxy")


RANGES = {"dpkg": f">= {DPKG}, << 999", "coreutils": "<< 1"}


def mismatch_expected(held):
    return [
        item("package", "bash", "0.0-1", BASH),
        item("package", "coreutils", "<< 1", COREUTILS),  # a range the installed version misses
    ] + holds(held, "bash", "coreutils", "dpkg") + [item("runtime", "haproxy", "2.2.9", HAPROXY)]


BASIC = {"manifest": manifest({"bash": BASH}), "groups": ["lb"]}
RUNS = {
    "fail": ("stack_verify", BASIC),
    "report": ("stack_verify", {**BASIC, "fail_on_drift": False}),
    "check-diff": ("stack_verify", BASIC, "--check", "--diff"),
    "mismatch": ("stack_verify", {"manifest": manifest({"bash": "0.0-1", "dpkg": DPKG, "coreutils": COREUTILS}),
                                  "groups": ["lb", "production"], "package_ranges": RANGES,
                                  "fail_on_drift": False}),
    "no-packages": ("stack_verify", {"manifest": {"name": "synthetic", "revision": 3,
                                                  "runtime": {"haproxy": "2.2.9"}}, "groups": ["lb"]}),
    "bad-range": ("stack_verify", {**BASIC, "package_ranges": {"bash": f">= {BASH}, <<"}}),
    "in-sync": ("stack_verify", {"manifest": manifest({}), "groups": ["production"]}),
}


@pytest.fixture(scope="module")
def runs():
    with ThreadPoolExecutor(max_workers=len(RUNS) + 1) as pool:
        futures = {key: pool.submit(ansible, *spec) for key, spec in RUNS.items()}
        showhold = pool.submit(direct, "apt-mark", "showhold")  # meanwhile, what is held here
        results = {key: future.result() for key, future in futures.items()}
    results["held"] = set(showhold.result().split())
    return results


def test_the_installed_packages_are_known():
    assert BASH and DPKG and COREUTILS


def test_drift_fails_by_default_with_the_table(runs):
    rc, host = runs["fail"]
    assert rc != 0 and host["failed"] is True
    assert host["drift"] == expected(runs["held"])
    assert host["in_sync"] is False and host["changed"] is False
    assert host["summary"] == expected_summary(runs["held"])
    lines = host["msg"].split("\n")
    assert lines[0] == expected_summary(runs["held"])
    assert lines[1].split() == ["KIND", "NAME", "EXPECTED", "ACTUAL"]
    assert [line.split(None, 3) for line in lines[2:]] == [
        [i["kind"], i["name"], i["expected"], i["actual"]] for i in expected(runs["held"])]
    assert lines[-1].index("2.2.9") == lines[1].index("EXPECTED")  # columns aligned
    assert "diff" not in host


def test_fail_on_drift_false_reports(runs):
    rc, host = runs["report"]
    assert rc == 0 and not host.get("failed")
    assert host["drift"] == expected(runs["held"])
    assert host["in_sync"] is False and host["changed"] is False
    assert host["summary"] == expected_summary(runs["held"])
    facts = host["stack_facts"]
    assert facts["packages"] == {"bash": BASH}
    assert facts["holds"] == sorted(runs["held"])
    assert facts["services"] == {}
    # only the lb slice's runtime is probed
    assert facts["php"] is None and facts["apache"] is None and facts["mariadb"] is None
    assert "diff" not in host


def test_check_and_diff_mode_give_the_same_failure_and_the_diff(runs):
    rc, host = runs["check-diff"]
    _, plain = runs["fail"]
    drift = expected(runs["held"])
    assert rc != 0 and host["failed"] is True
    assert host["drift"] == plain["drift"] == drift
    assert host["msg"] == plain["msg"]
    assert host["diff"] == {
        "before": "".join(f"{i['kind']} {i['name']}: {i['expected']}\n" for i in drift),
        "after": "".join(f"{i['kind']} {i['name']}: {i['actual']}\n" for i in drift),
        "before_header": "synthetic@3",
        "after_header": "this host",
    }
    assert host["diff"]["before"].endswith("runtime haproxy: 2.2.9\n")
    assert host["diff"]["after"].endswith(f"runtime haproxy: {HAPROXY}\n")


def test_version_mismatch_and_ranges(runs):
    rc, host = runs["mismatch"]
    assert rc == 0, host.get("msg")
    drift = mismatch_expected(runs["held"])
    assert host["drift"] == drift
    assert host["stack_facts"]["packages"] == {"bash": BASH, "coreutils": COREUTILS, "dpkg": DPKG}
    assert host["summary"].startswith(f"{len(drift)} drift items from synthetic@3: "
                                      "package bash, package coreutils, ")


def test_a_manifest_without_packages_is_refused(runs):
    rc, host = runs["no-packages"]
    assert rc != 0 and host["failed"] is True
    assert host["msg"] == ("manifest: field 'packages' is missing; pass the manifest the "
                           "stack_manifest lookup returns")
    assert "drift" not in host


def test_a_malformed_range_fails_with_its_message(runs):
    rc, host = runs["bad-range"]
    assert rc != 0 and host["failed"] is True
    assert host["msg"].startswith("invalid dpkg constraint")
    assert "drift" not in host


def test_a_host_outside_the_manifests_groups_is_in_sync(runs):
    rc, host = runs["in-sync"]
    assert rc == 0 and not host.get("failed")
    assert host["in_sync"] is True and host["drift"] == []
    assert host["summary"] == "in sync with synthetic@3"
