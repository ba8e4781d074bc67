"""The preflight_checks action plugin, driven for real through `ansible-playbook` with the repo's config.

Hosts are local (the action never connects); the json stdout callback gives each host's result.
Every refusal the action makes is covered through the real playbooks in tests/integration (22
cases); here, what it returns and how it reports several hosts at once.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[4]
PLAYBOOK_BIN = REPO / ".venv" / "bin" / "ansible-playbook"

pytestmark = pytest.mark.skipif(not PLAYBOOK_BIN.exists(),
                                reason=f"{PLAYBOOK_BIN} is not installed (make toolchain)")

PLAYBOOK = [{
    "name": "Preflight checks", "hosts": "all", "gather_facts": False,
    "tasks": [{"name": "Check", "run_once": True, "preflight_checks": {
        "inventories_dir": str(REPO / "inventories"), "repo_dir": str(REPO),
        "requirements": str(REPO / "requirements.txt"),
        "collections_requirements": str(REPO / "requirements.yml"),
        "promotions_dir": "/nonexistent", "stacks_dir": str(REPO / "stacks")}},
        {"name": "Show", "ansible.builtin.debug": {"var": "preflight_stack_manifests | dict2items | "
                                                          "map(attribute='key') | sort"}}],
}]


def _host(address, stack, environment="unit"):
    return {"ansible_connection": "local", "stackguard_environment": environment,
            "stackguard_address": address, "stackguard_networks": ["10.250.0.0/24"],
            "stackguard_stack": stack}


def _run(tmp_path, hosts):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(PLAYBOOK, sort_keys=False))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "CI", "GITHUB_"))}
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    proc = subprocess.run([str(PLAYBOOK_BIN), "-i", str(inventory), str(playbook)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    tasks = json.loads(proc.stdout)["plays"][0]["tasks"]
    return proc.returncode, {task["task"]["name"]: task["hosts"] for task in tasks}


def test_one_task_gives_every_host_the_run_findings_and_each_pinned_manifest(tmp_path):
    rc, results = _run(tmp_path, {
        "old1": _host("10.250.0.21", {"name": "php74-apache24", "revision": 1}),
        "new1": _host("10.250.0.22", {"name": "php82-apache24", "revision": 1})})
    assert rc == 0, results
    checked = next(iter(results["Check"].values()))
    facts = checked["ansible_facts"]
    assert set(facts["preflight_stack_manifests"]) == {"php74-apache24@1", "php82-apache24@1"}
    assert facts["preflight_stack_manifests"]["php82-apache24@1"]["os"]["release"] == "bookworm"
    assert facts["preflight_stack_manifests"]["php74-apache24@1"]["os"]["release"] == "bullseye"
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True)
    assert facts["preflight_commit"] == head.stdout.strip()
    assert facts["preflight_promotions"] == [] and facts["preflight_promotion_refusals"] == []
    assert facts["preflight_inventory_guard"]["problems"] == []
    # run_once: both hosts see the findings the one task returned.
    shown = {host: result["preflight_stack_manifests | dict2items | map(attribute='key') | sort"]
             for host, result in results["Show"].items()}
    assert shown == {"old1": ["php74-apache24@1", "php82-apache24@1"],
                     "new1": ["php74-apache24@1", "php82-apache24@1"]}


def test_every_host_with_a_bad_pin_is_named_in_one_refusal(tmp_path):
    rc, results = _run(tmp_path, {
        "good": _host("10.250.0.21", {"name": "php74-apache24", "revision": 1}),
        "nameless": _host("10.250.0.22", {"name": "php74-apache24", "revision": 1}, environment=""),
        "zero": _host("10.250.0.23", {"name": "php74-apache24", "revision": "01"})})
    assert rc != 0
    result = next(iter(results["Check"].values()))
    assert result["failed"] is True
    assert "ansible_facts" not in result
    lines = result["msg"].splitlines()
    assert len(lines) == 2, result["msg"]
    assert lines[0].startswith("nameless: ") and "'stackguard_environment' is missing or empty" in lines[0]
    assert lines[1].startswith("zero: ") and "must be {name: <stack>, revision: <whole number from 1>}" in lines[1]


def test_an_unknown_stack_is_refused_with_the_manifest_lookup_reason(tmp_path):
    rc, results = _run(tmp_path, {"web": _host("10.250.0.21", {"name": "php99-nginx", "revision": 1})})
    assert rc != 0
    result = next(iter(results["Check"].values()))
    assert result["failed"] is True
    assert "php99-nginx" in result["msg"]
    assert "Traceback" not in result["msg"]
