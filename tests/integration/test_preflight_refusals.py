"""provision-stack.yml refuses a bad inventory or stack before any host changes.

Each case runs the real playbook with the repo's ansible.cfg against a temporary inventory shaped
like inventories/local/ (hosts.yml with groups lb/web/db, group_vars/all/vars.yml), of an
environment `test` that inventories/ does not declare, in a network of its own (TEST-NET-3). Its one
host, `ghost`, is reached with community.docker.docker at a container that does not exist, so a
missed refusal could not change anything: it would only show up as a task after preflight's
controller checks (the control case shows what that looks like). The cases are independent runs and
run concurrently. The change-control refusals are in test_change_control.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from preflight_testing import host_tasks

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"
STACKS = REPO / "stacks"
LOCK = yaml.safe_load((STACKS / "stacks.lock").read_text())
FATAL = re.compile(r"^fatal: \[ghost\]: FAILED! => (\{.*\})$", re.M)


def _outside_checks(stdout):
    """Play and task headers of the run that are not preflight's controller-side checks."""
    return host_tasks(stdout)


pytestmark = pytest.mark.skipif(not (BIN / "ansible-playbook").exists(),
                                reason=".venv has no ansible-playbook (make toolchain)")

BASE_VARS = {
    "stackguard_environment": "test",
    "stackguard_stack": {"name": "php74-apache24", "revision": 1},
    "stackguard_networks": ["203.0.113.0/24"],
    "database_app_password": "not-a-secret-test-only",  # no vault in this inventory
}


def _inventory(root, case, vars_):
    inventory = root / case / "inventory"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    (inventory / "hosts.yml").write_text("---\n" + yaml.safe_dump({"all": {"children": {
        "lb": {"hosts": {}},
        "web": {"hosts": {"ghost": {"ansible_host": "sg-test-does-not-exist",
                                    "ansible_connection": "community.docker.docker",
                                    "stackguard_address": "203.0.113.5"}}},
        "db": {"hosts": {}},
    }}}, sort_keys=False))
    (inventory / "group_vars" / "all" / "vars.yml").write_text("---\n" + yaml.safe_dump(vars_, sort_keys=False))
    return inventory


def _stacks(root, case, old, new):
    stacks = root / case / "stacks"
    shutil.copytree(STACKS, stacks)
    path = stacks / "php74-apache24.yml"
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))
    return stacks


def _with(**changes):
    vars_ = dict(BASE_VARS)
    for key, value in changes.items():
        if value is None:
            vars_.pop(key)
        else:
            vars_[key] = value
    return vars_


# case -> (inventory vars, edit of a private stacks dir passed with -e preflight_stacks_dir, or None)
CASES = {
    "control": (_with(), None),
    "unknown-stack": (_with(stackguard_stack={"name": "php99-nginx", "revision": 1}), None),
    "revision-does-not-exist": (_with(stackguard_stack={"name": "php74-apache24", "revision": 7}), None),
    "no-environment": (_with(stackguard_environment=None), None),
    "stack-without-revision": (_with(stackguard_stack={"name": "php74-apache24"}), None),
    "manifest-misses-a-field": (_with(), ("  release: bullseye\n", "")),
    "manifest-edited-in-place": (_with(), ("  mpm: prefork\n", "  mpm: event\n")),
    "stack-is-a-plain-name": (_with(stackguard_stack="php74-apache24"), None),
    "revision-not-a-number": (_with(stackguard_stack={"name": "php74-apache24", "revision": "one"}), None),
}


def _run(root, case):
    vars_, edit = CASES[case]
    inventory = _inventory(root, case, vars_)
    argv = [str(BIN / "ansible-playbook"), "-i", str(inventory / "hosts.yml"), "playbooks/provision-stack.yml"]
    stacks = None
    if edit:
        stacks = _stacks(root, case, *edit)
        argv += ["-e", f"preflight_stacks_dir={stacks}"]
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CALLBACK_RESULT_FORMAT="json", PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    fatal = FATAL.search(proc.stdout)
    return {"rc": proc.returncode, "stdout": proc.stdout, "output": proc.stdout + proc.stderr,
            "msg": json.loads(fatal.group(1)).get("msg", "") if fatal else None,
            "inventory": inventory, "stacks": stacks}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("preflight")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(zip(CASES, pool.map(lambda case: _run(root, case), CASES)))


def _vars_file(run):
    return f"{run['inventory']}/group_vars/all/vars.yml"


EXPECTED = {
    "unknown-stack": lambda r: [
        f"unknown stack 'php99-nginx': no {STACKS}/php99-nginx.yml "
        f"(known stacks: {', '.join(sorted(p.stem for p in STACKS.glob('*.yml')))})"],
    "revision-does-not-exist": lambda r: [
        f"{STACKS}/php74-apache24.yml: the inventory pins php74-apache24 revision 7, but the file holds revision 1."],
    "no-environment": lambda r: [
        f"{_vars_file(r)}: field 'stackguard_environment' is missing or empty."],
    "stack-without-revision": lambda r: [
        f"{_vars_file(r)}: field 'stackguard_stack' must be {{name: <stack>, revision: <whole number from 1>}}"],
    "manifest-misses-a-field": lambda r: [
        f"{r['stacks']}/php74-apache24.yml: invalid stack manifest:\n  os.release: missing"],
    "manifest-edited-in-place": lambda r: [
        f"{r['stacks']}/php74-apache24.yml: php74-apache24 revision 1 was released with digest "
        f"{LOCK['php74-apache24'][1]} but the file now has sha256:",
        "(bump `revision`, then `make stack-lock`)"],
    # The inventory check says what is wrong with stackguard_stack, and where, for any bad shape.
    "stack-is-a-plain-name": lambda r: [_vars_file(r), "'stackguard_stack'"],
    "revision-not-a-number": lambda r: [_vars_file(r), "'stackguard_stack'"],
}


def test_control_a_good_inventory_passes_preflight_checks_and_reaches_the_host(runs):
    """Without a refusal the run goes on to a task on the host, which fails: no such container."""
    run = runs["control"]
    assert run["rc"] != 0
    assert "TASK [preflight : Check the inventory, the networks, change control, the toolchain, promotion and the stack pins]" in run["stdout"]
    assert _outside_checks(run["stdout"])  # e.g. TASK [preflight : Refresh the apt package lists]
    assert "sg-test-does-not-exist" in run["output"]


@pytest.mark.parametrize("case", [
    c for c in CASES if c != "control"])
def test_preflight_refuses_before_any_host_task(runs, case):
    run = runs[case]
    assert run["rc"] != 0, run["output"]
    assert run["msg"] is not None, run["output"]
    for fragment in EXPECTED[case](run):
        assert fragment in run["msg"], run["msg"]
    assert "Traceback (most recent call last)" not in run["output"]
    assert _outside_checks(run["stdout"]) == [], run["stdout"]
    assert re.search(r"^ghost\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=1\b", run["stdout"], re.M)
