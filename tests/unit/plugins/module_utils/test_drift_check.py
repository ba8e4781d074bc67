"""drift_check: the on-host check gives exactly what the stack_verify module gives, on this machine.

Each manifest is checked twice, for real: by ``ansible localhost -m stack_verify`` (commands through
AnsibleModule) and by ``check_host(host_gatherer(), ...)`` (commands through subprocess, as on a
host under the drift monitor's timer). Drift items, summary and gathered facts must be identical.
The manifests pin packages installed here (bash, dpkg, coreutils); see test_stack_verify.py.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from ansible.module_utils.drift_check import (
    check_host, host_gatherer, manifest_errors, run_command, which)
from tests.unit.ansible_adhoc import ansible, direct, requires_ansible_and_dpkg


def version(package):
    return direct("dpkg-query", "-W", "-f", "${Version}", package)


BASH, DPKG, COREUTILS = version("bash"), version("dpkg"), version("coreutils")


def manifest(packages, services=()):
    return {"name": "synthetic", "revision": 3, "packages": {"lb": packages},
            "runtime": {"haproxy": "2.2.9"}, "services": {"lb": list(services)}}


CASES = {
    "pinned": (manifest({"bash": BASH}), ["lb"], {}),
    "mismatch-and-ranges": (manifest({"bash": "0.0-1", "dpkg": DPKG, "coreutils": COREUTILS}),
                            ["lb", "production"], {"dpkg": f">= {DPKG}, << 999", "coreutils": "<< 1"}),
    "service": (manifest({}, services=["stackguard-no-such-unit"]), ["lb"], {}),
    "outside-the-groups": (manifest({"bash": "0.0-1"}), ["production"], {}),
}


@pytest.fixture(scope="module")
def module_runs():
    with ThreadPoolExecutor(max_workers=len(CASES)) as pool:
        futures = {key: pool.submit(ansible, "stack_verify", {
            "manifest": m, "groups": g, "package_ranges": r, "fail_on_drift": False})
            for key, (m, g, r) in CASES.items()}
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize("case", [pytest.param(c, marks=requires_ansible_and_dpkg) for c in sorted(CASES)])
def test_the_host_check_and_the_module_agree(module_runs, case):
    rc, module = module_runs[case]
    assert rc == 0, module.get("msg")
    m, groups, ranges = CASES[case]
    mine = check_host(host_gatherer(), m, groups, ranges)
    assert mine["drift"] == module["drift"]
    assert mine["summary"] == module["summary"]
    assert mine["in_sync"] == module["in_sync"]
    assert mine["stack_facts"] == module["stack_facts"]
    if case != "outside-the-groups":
        assert mine["drift"], "each case but the last drifts by construction"


@pytest.mark.parametrize("_", [pytest.param(0, marks=requires_ansible_and_dpkg, id="dpkg")])
def test_a_malformed_range_is_the_same_error_as_the_module_gives(_):
    with pytest.raises(ValueError, match=r"^invalid dpkg constraint"):
        check_host(host_gatherer(), manifest({"bash": BASH}), ["lb"], {"bash": f">= {BASH}, <<"})


@pytest.mark.parametrize("bad, messages", [
    ({"name": "s", "revision": 1}, ["manifest: field 'packages' is missing; pass the manifest the "
                                    "stack_manifest lookup returns"]),
    ({}, [f"manifest: field '{f}' is missing; pass the manifest the stack_manifest lookup returns"
          for f in ("name", "revision", "packages")]),
    ([], ["manifest: not a mapping; pass the manifest the stack_manifest lookup returns"]),
])
def test_an_unusable_manifest_is_refused_before_any_probe(bad, messages):
    assert manifest_errors(bad) == messages

    class NoProbe:
        def gather(self, *args):
            raise AssertionError("probed despite an unusable manifest")

    with pytest.raises(ValueError) as error:
        check_host(NoProbe(), bad, ["lb"])
    assert str(error.value) == "; ".join(messages)


def test_run_command_reports_like_run_command_does(monkeypatch):
    rc, out, err = run_command(["sh", "-c", "echo $LC_ALL; echo oops >&2; exit 3"])
    assert (rc, out, err) == (3, "C\n", "oops\n")
    rc, out, err = run_command(["/nonexistent/stackguard-probe"])
    assert rc == 127 and out == "" and "nonexistent" in err
    monkeypatch.setattr("ansible.module_utils.drift_check.COMMAND_TIMEOUT", 0.2)
    rc, out, err = run_command(["sleep", "5"])
    assert rc == 124 and "did not finish" in err


def test_which_also_looks_in_the_sbin_directories(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    found = which("ldconfig") or which("start-stop-daemon")
    assert found and os.path.dirname(found) in ("/sbin", "/usr/sbin", "/usr/local/sbin")
    assert which("stackguard-no-such-program") is None
