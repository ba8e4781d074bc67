"""The guards let every Molecule scenario's inventory through, as the scenarios run: from this working
tree (possibly dirty), CI unset, an environment that inventories/ does not declare.

Each scenario's inventory (molecule/<scenario>/molecule.yml: its platforms and groups, group_vars
and host_vars) is rebuilt in a temporary file with every host reached at a ghost container - never
at the scenario's own containers, which may be running - and provision-stack.yml must pass
preflight's controller checks and go on to the hosts.
"""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml
from preflight_testing import BIN, REPO, host_tasks, run_env

pytestmark = pytest.mark.skipif(not (BIN / "ansible-playbook").exists(),
                                reason=".venv has no ansible-playbook (make toolchain)")

SCENARIOS = sorted(p.parent.name for p in (REPO / "molecule").glob("*/molecule.yml"))


def _substitute(value):
    if isinstance(value, dict):
        return {k: _substitute(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v) for v in value]
    if isinstance(value, str):
        return value.replace("${MOLECULE_PROJECT_DIRECTORY}", str(REPO))
    return value


def scenario_inventory(scenario, directory):
    config = yaml.safe_load((REPO / "molecule" / scenario / "molecule.yml").read_text())
    inventory = (config.get("provisioner") or {}).get("inventory") or {}
    group_vars = _substitute(inventory.get("group_vars") or {})
    host_vars = _substitute(inventory.get("host_vars") or {})
    groups = {}
    for platform in config.get("platforms", []):
        name = platform["name"]
        variables = dict(host_vars.get(name) or {})
        variables.update(ansible_connection="community.docker.docker", ansible_host=f"sg-test-ghost-{name}")
        for group in platform.get("groups", []):
            groups.setdefault(group, {"hosts": {}})["hosts"][name] = variables
    children = {group: dict(data, vars=group_vars.get(group) or {}) for group, data in groups.items()}
    path = directory / f"{scenario}.yml"
    path.write_text(yaml.safe_dump({"all": {"vars": group_vars.get("all") or {}, "children": children}}))
    return path


def _run(scenario, directory):
    inventory = scenario_inventory(scenario, directory)
    # As the scenarios' tests run playbooks: from the repository, CI unset.
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory), "playbooks/provision-stack.yml"],
                          cwd=REPO, env=run_env(REPO), capture_output=True, text=True, timeout=300)
    return proc.stdout + proc.stderr, proc.stdout


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("molecule-inventories")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(zip(SCENARIOS, pool.map(lambda s: _run(s, directory), SCENARIOS)))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_molecule_scenario_passes_the_guards(runs, scenario):
    output, stdout = runs[scenario]
    assert "Refused:" not in output, output[-4000:]
    assert host_tasks(stdout), stdout[-4000:]
    assert "No such container: sg-test-ghost-" in output, output[-4000:]
