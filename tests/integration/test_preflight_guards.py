"""The preflight guards refuse, before any host changes: the inventory guard, the controller guard and
the production policy, each through the real playbooks from a checkout of this working tree.

Each case runs ansible-playbook from a committed copy of the working tree (preflight_testing) whose
inventories/ hold a fake staging (198.51.100.0/24) and production (192.0.2.0/24) of ghost hosts -
containers that do not exist - with the repository's own change_control.yml files. A refusal must
name what, why and what to do instead, and no task may reach a host: no play or task other than
preflight's controller checks, nothing changed, no container looked up. The control cases show a
run that passes the guards reaching its hosts. The cases are independent runs and run concurrently.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from preflight_testing import (ARTIFACT_SHA256, BIN, PIPELINE, REPO, environment, host_tasks, make_checkout,
                               run_playbook, run_playbook_interactive, write_environment)

pytestmark = pytest.mark.skipif(not (BIN / "ansible-playbook").exists(),
                                reason=".venv has no ansible-playbook (make toolchain)")

PHP82 = {"name": "php82-apache24", "revision": 1}
PINS = {line.split("==")[0].lower(): line.split("==")[1].strip()
        for line in (REPO / "requirements.txt").read_text().splitlines() if "==" in line and not line.startswith("#")}
COLLECTIONS = {c["name"]: c["version"] for c in yaml.safe_load((REPO / "requirements.yml").read_text())["collections"]}
CONTROL_RECORD_PLAYBOOK = "tests/integration/playbooks/record-promotion.yml"


def staging(hosts=None, **kwargs):
    return environment("staging", kwargs.pop("network", "198.51.100.0/24"),
                       hosts or {"stg-web1": "198.51.100.21", "stg-web2": "198.51.100.22"}, stack=PHP82, **kwargs)


def production(hosts=None, **kwargs):
    return environment("production", kwargs.pop("network", "192.0.2.0/24"),
                       hosts or {"prod-web1": "192.0.2.21", "prod-web2": "192.0.2.22"}, **kwargs)


# checkout name -> (environments, make_checkout keywords)
CHECKOUTS = {
    "fleet": lambda: ([staging(), production()], {}),
    "wrong-network": lambda: ([staging(), production({"prod-web1": "192.0.2.21", "prod-web2": "10.9.9.9"})], {}),
    "overlap": lambda: ([staging({"stg-web1": "192.0.2.150"}, network="192.0.2.128/25"), production()], {}),
    "same-host": lambda: ([staging({"stg-web1": "198.51.100.21", "prod-web1": "198.51.100.30"}), production()], {}),
    "host-says-production": lambda: (
        [staging(host_vars={"stg-web2": {"stackguard_environment": "production"}}), production()], {}),
    "dirty": lambda: ([staging(), production()], {"uncommitted": {"README.md": "edited, not committed\n"}}),
    "feature-branch": lambda: ([staging(), production()], {"branch": "feature"}),
    "bad-policy": lambda: ([staging(), production(change_control={"require_pipline": True})], {}),
    "unpinned-sha": lambda: ([staging(), production(release={"version": "1.0.0", "sha256": "",
                                                            "artifact": "https://x.invalid/a.tar.gz"})], {}),
}

RELEASE_OVERRIDE = json.dumps({"stackguard_app_release": {
    "version": "1.0.1", "artifact": "/tmp/stackguard-app-1.0.1.tar.gz", "sha256": "0" * 64}})
STACK_OVERRIDE = json.dumps({"stackguard_stack": PHP82})
BROKEN_GLASS = {"CI": "", "GITHUB_RUN_ID": ""}


# case -> dict(checkout, inventory, playbook, args, env, expect (fragments), refused)
CASES = {
    # The inventory guard
    "wrong-network": dict(checkout="wrong-network", inventory="inventories/production", env=PIPELINE, expect=[
        "Refused: a run while production's host prod-web2 has address 10.9.9.9 outside production's "
        "networks (192.0.2.0/24). Why: a host outside its environment's networks may be a host of another "
        "environment. Instead: fix stackguard_address in"]),
    "overlapping-environments": dict(checkout="overlap", inventory="inventories/staging", expect=[
        "Refused: a run while production's network 192.0.2.0/24 overlaps staging's network 192.0.2.128/25. "
        "Why: an address in both could be a host of either environment, so a run against one could reach "
        "the other. Instead: give each environment networks of its own"]),
    "host-in-two-environments": dict(checkout="same-host", inventory="inventories/staging", expect=[
        "Refused: a run while host prod-web1 is declared in both production"]),
    "two-inventories-in-one-run": dict(checkout="fleet", inventory="inventories/staging",
                                       args=["-i", "inventories/production"], env=PIPELINE, expect=[
        "Refused: a run that loads the inventories of production and staging. Why: one run changes one "
        "environment",
        "Refused: host stg-web1 in a run of production. Why: stg-web1 is a host of staging"]),
    "host-of-another-environment": dict(checkout="host-says-production", inventory="inventories/staging", expect=[
        "Refused: a run over hosts of 2 environments (production: stg-web2; staging: stg-web1)"]),
    "undeclared-environment-overlaps-production": dict(
        checkout="fleet", undeclared=environment("test", "192.0.2.0/25", {"ghost": "192.0.2.5"}), expect=[
            "Refused: a run of test whose network 192.0.2.0/25 overlaps production's network 192.0.2.0/24"]),
    "undeclared-environment-reaches-a-production-host": dict(
        checkout="fleet", undeclared=environment(
            "test", "203.0.113.0/24", {"ghost": "203.0.113.5"},
            host_vars={"ghost": {"ansible_host": "sg-test-ghost-prod-web1"}}), expect=[
            "Refused: host ghost in a run of test reached at sg-test-ghost-prod-web1. Why: that is how "
            "production's host prod-web1 is reached"]),
    # The controller guard
    "toolchain-python-distribution": dict(checkout="fleet", inventory="inventories/staging",
                                          env={"PYTHONPATH": "{fake_dists}"}, expect=[
        "Refused: a run from a controller whose toolchain differs from the pins",
        f"  ansible-core: pinned {PINS['ansible-core']}, installed 2.19.99",
        "Instead: Restore the pins with `make toolchain-reinstall`"]),
    "toolchain-collection-shadowed": dict(checkout="fleet", inventory="inventories/staging",
                                          env={"ANSIBLE_COLLECTIONS_PATH": "{shadow_collections}"}, expect=[
        f"  ansible.utils: pinned {COLLECTIONS['ansible.utils']}, loaded 6.0.99 from "
        "{shadow_collections}/ansible_collections/ansible/utils"]),
    "dirty-checkout-on-production": dict(checkout="dirty", inventory="inventories/production", env=PIPELINE, expect=[
        "Refused: a run of production from a checkout with uncommitted changes (README.md). Why: production's "
        "policy (", "runs only committed, reviewed code"]),
    # The production policy
    "production-outside-the-pipeline": dict(checkout="fleet", inventory="inventories/production", expect=[
        "Refused: a run of production from outside the pipeline. Why: production changes only through the "
        "pipeline (", "CI=true (CI is unset); a pipeline run id in GITHUB_RUN_ID (unset)",
        "Instead: merge the change to the main branch and let the pipeline run it"]),
    "production-from-another-branch": dict(checkout="fleet", inventory="inventories/production",
                                           env=dict(PIPELINE, GITHUB_REF="refs/heads/feature"), expect=[
        "branch main (GITHUB_REF=refs/heads/main or a checkout of it; GITHUB_REF is 'refs/heads/feature')"]),
    "production-from-a-feature-checkout": dict(checkout="feature-branch", inventory="inventories/production",
                                               env=dict(PIPELINE, GITHUB_REF=""), expect=[
        "the checkout is on branch 'feature'"]),
    "ad-hoc-release-on-production": dict(checkout="fleet", inventory="inventories/production", env=PIPELINE,
                                         args=["-e", RELEASE_OVERRIDE], expect=[
        "Refused: -e stackguard_app_release on production. Why: production runs only the release its "
        "inventory pins (", "Instead: pin the release and stack in",
        "Refused: release {artifact: /tmp/stackguard-app-1.0.1.tar.gz, sha256: " + "0" * 64 + ", version: 1.0.1} "
        "on production"]),
    "ad-hoc-app-release-on-production": dict(checkout="fleet", inventory="inventories/production", env=PIPELINE,
                                             args=["-e", "app_release=/tmp/stackguard-app-1.0.1.tar.gz"], expect=[
        "Refused: -e app_release on production"]),
    "ad-hoc-stack-on-production": dict(checkout="fleet", inventory="inventories/production", env=PIPELINE,
                                       args=["-e", STACK_OVERRIDE], expect=[
        "Refused: -e stackguard_stack on production. Why: production runs only the stack its inventory pins"]),
    "other-extra-vars-on-production": dict(checkout="fleet", inventory="inventories/production", env=PIPELINE,
                                           args=["-e", "preflight_promotions_dir=/tmp"], expect=[
        "Refused: -e preflight_promotions_dir on production. Why: production takes its settings from its "
        "inventory, not from flags"]),
    "break-glass-not-interactive": dict(checkout="fleet", inventory="inventories/production",
                                        args=["-e", "change_ticket=OPS-1234"], expect=[
        "Refused: a break-glass run of production under change ticket OPS-1234. Why: it was not confirmed"]),
    "break-glass-without-a-ticket-id": dict(checkout="fleet", inventory="inventories/production",
                                            args=["-e", "change_ticket=urgent"], expect=[
        "'urgent' is not a change ticket id (it must match ^[A-Z][A-Z0-9]*-[0-9]+$"]),
    "policy-with-an-unknown-field": dict(checkout="bad-policy", inventory="inventories/production", env=PIPELINE,
                                         expect=[
        "Refused: a run of production under a change-control policy that cannot be used",
        "stackguard_change_control.require_pipline: unknown field"]),
    "release-never-seen-in-staging": dict(checkout="fleet", inventory="inventories/production", env=PIPELINE,
                                          records=[("0.9.0", "1" * 64)], expect=[
        f"Refused: release 1.0.0 on production (sha256 {ARTIFACT_SHA256[:12]}…). Why: a release reaches "
        "production only after staging deployed the same artifact and it passed its health checks there, "
        "and staging has no record of it", "it has records of 0.9.0 (sha256 111111111111…",
        "Instead: deploy it to staging first"]),
    "release-without-a-pinned-sha256": dict(checkout="unpinned-sha", inventory="inventories/production",
                                            env=PIPELINE, expect=[
        "Refused: release 1.0.0 on production. Why: production's inventory (", "pins no sha256 for it"]),
    # Controls: the guards let these through to their hosts.
    "control-staging": dict(checkout="fleet", inventory="inventories/staging", refused=False),
    "control-staging-from-a-dirty-checkout": dict(checkout="dirty", inventory="inventories/staging", refused=False,
                                                  expect_output=["[WARNING]: the checkout", "has uncommitted changes "
                                                                 "(README.md)"]),
    "control-ad-hoc-release-on-staging": dict(checkout="fleet", inventory="inventories/staging", refused=False,
                                              args=["-e", RELEASE_OVERRIDE]),
}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("guards")


@pytest.fixture(scope="module")
def checkouts(root):
    return {name: make_checkout(root / "checkouts" / name, envs, **kwargs)
            for name, (envs, kwargs) in ((n, make()) for n, make in CHECKOUTS.items())}


@pytest.fixture(scope="module")
def drift(root):
    """A Python path with a distribution claiming another ansible-core version, and a collection
    path with a copy of ansible.utils of another version, which Ansible loads first."""
    fake = root / "pythonpath" / "ansible_core-2.19.99.dist-info"
    fake.mkdir(parents=True)
    (fake / "METADATA").write_text("Metadata-Version: 2.1\nName: ansible-core\nVersion: 2.19.99\n")
    import ansible

    installed = Path(ansible.__file__).resolve().parents[1] / "ansible_collections" / "ansible" / "utils"
    shadow = root / "collections"
    copy = shutil.copytree(installed, shadow / "ansible_collections" / "ansible" / "utils")
    manifest = json.loads((copy / "MANIFEST.json").read_text())
    manifest["collection_info"]["version"] = "6.0.99"
    (copy / "MANIFEST.json").write_text(json.dumps(manifest))
    return {"fake_dists": str(root / "pythonpath"), "shadow_collections": str(shadow)}


def _write_record(directory, environment_name, version, sha256):
    folder = Path(directory) / environment_name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{sha256}.json").write_text(json.dumps({
        "environment": environment_name, "version": version, "sha256": sha256, "commit": "0" * 40,
        "time": "2024-01-01T00:00:00Z", "run_id": "1"}))


def _run(root, checkouts, drift, name):
    case = CASES[name]
    checkout = checkouts[case["checkout"]]
    promotions = root / "promotions" / name
    promotions.mkdir(parents=True)
    for version, sha256 in case.get("records", []):
        _write_record(promotions, "staging", version, sha256)
    env = {k: v.format(**drift) for k, v in case.get("env", {}).items()}
    env["STACKGUARD_PROMOTIONS_DIR"] = str(promotions)
    inventory = case.get("inventory")
    if "undeclared" in case:
        inventory = write_environment(root / "undeclared" / name, case["undeclared"]) / "hosts.yml"
    result = run_playbook(checkout, case.get("playbook", "provision-stack.yml"), *case.get("args", []),
                          inventory=inventory, env=env)
    result["expect"] = [fragment.replace("{shadow_collections}", drift["shadow_collections"])
                        for fragment in case.get("expect", [])]
    return result


@pytest.fixture(scope="module")
def runs(root, checkouts, drift):
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(zip(CASES, pool.map(lambda name: _run(root, checkouts, drift, name), CASES)))


def assert_nothing_reached_a_host(run):
    assert host_tasks(run["stdout"]) == [], run["stdout"]
    assert run["recap"], run["output"]
    assert all(counts["changed"] == 0 for counts in run["recap"].values()), run["recap"]
    assert "No such container" not in run["output"]
    assert "Traceback (most recent call last)" not in run["output"]


@pytest.mark.parametrize("case", [c for c in CASES if CASES[c].get("refused", True)])
def test_a_guard_refuses_before_any_host_is_contacted(runs, case):
    run = runs[case]
    assert run["rc"] != 0, run["output"]
    assert run["msg"] is not None, run["output"]
    for fragment in run["expect"]:
        assert fragment in run["msg"], run["msg"]
    assert re.search(r"Refused: .+\. Why: .+\. Instead: .+\.", run["msg"], re.S), run["msg"]
    assert_nothing_reached_a_host(run)


@pytest.mark.parametrize("case", [c for c in CASES if not CASES[c].get("refused", True)])
def test_a_run_the_guards_accept_goes_on_to_its_hosts(runs, case):
    run = runs[case]
    assert "Refused:" not in run["output"], run["output"]
    assert "TASK [preflight : Check the inventory, the networks, change control, the toolchain, promotion and the stack pins]" in run["stdout"]
    assert host_tasks(run["stdout"]), run["stdout"]
    assert "No such container: sg-test-ghost-" in run["output"]
    for fragment in CASES[case].get("expect_output", []):
        assert fragment in run["output"]


# The promotion path, end to end -----------------------------------------------------------------

@pytest.fixture(scope="module")
def promoted(root, checkouts):
    """A staging run of the promotion_record tasks (as deploy.yml's last play runs them), then the
    production pipeline run of the same artifact."""
    promotions = root / "promotions" / "promoted"
    checkout = checkouts["fleet"]
    env = {"STACKGUARD_PROMOTIONS_DIR": str(promotions), "GITHUB_RUN_ID": "777"}
    record = run_playbook(checkout, CONTROL_RECORD_PLAYBOOK, inventory="inventories/staging", env=env)
    production_run = run_playbook(checkout, "provision-stack.yml", inventory="inventories/production",
                                  env=dict(PIPELINE, STACKGUARD_PROMOTIONS_DIR=str(promotions)))
    check_mode = run_playbook(checkout, CONTROL_RECORD_PLAYBOOK, "--check", inventory="inventories/staging",
                              env={"STACKGUARD_PROMOTIONS_DIR": str(root / "promotions" / "check-mode")})
    from_production = run_playbook(checkout, CONTROL_RECORD_PLAYBOOK, inventory="inventories/production",
                                   env=dict(PIPELINE, STACKGUARD_PROMOTIONS_DIR=str(promotions)))
    limited = run_playbook(checkout, CONTROL_RECORD_PLAYBOOK, "--limit", "stg-web1", inventory="inventories/staging",
                           env={"STACKGUARD_PROMOTIONS_DIR": str(root / "promotions" / "limited")})
    return {"record": record, "production": production_run, "check_mode": check_mode,
            "from_production": from_production, "limited": limited, "promotions": promotions,
            "checkout": checkout}


def test_a_staging_deploy_records_the_artifact_it_ran(promoted):
    run = promoted["record"]
    assert run["rc"] == 0, run["output"]
    path = promoted["promotions"] / "staging" / f"{ARTIFACT_SHA256}.json"
    record = json.loads(path.read_text())
    commit = re.search(r"^[0-9a-f]{40}$", record["commit"])
    assert commit and record["commit"] == _git_head(promoted["checkout"])
    assert {k: record[k] for k in ("environment", "version", "sha256", "dirty", "run_id", "ci_run_id", "health",
                                   "hosts")} == {
        "environment": "staging", "version": "1.0.0", "sha256": ARTIFACT_SHA256, "dirty": False,
        "run_id": "777", "ci_run_id": "777", "health": "passed", "hosts": ["stg-web1", "stg-web2"]}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["time"])
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_the_production_pipeline_deploys_the_promoted_artifact(promoted):
    run = promoted["production"]
    assert "Refused:" not in run["output"], run["output"]
    assert host_tasks(run["stdout"]), run["stdout"]
    assert "No such container: sg-test-ghost-prod-web" in run["output"]


def test_check_mode_a_partial_deploy_and_production_record_nothing(promoted, root):
    assert promoted["check_mode"]["rc"] == 0, promoted["check_mode"]["output"]
    assert not (root / "promotions" / "check-mode").exists()
    assert promoted["from_production"]["rc"] == 0, promoted["from_production"]["output"]
    assert not (promoted["promotions"] / "production").exists()
    assert promoted["limited"]["rc"] == 0, promoted["limited"]["output"]
    assert "WARNING: release 1.0.0 is not recorded for promotion from staging: these web hosts did not finish " \
           "the deploy: stg-web2" in promoted["limited"]["stdout"]
    assert not (root / "promotions" / "limited").exists()


def _git_head(checkout):
    return (Path(checkout) / ".git" / "refs" / "heads" / "main").read_text().strip()


# Break-glass at a terminal ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def break_glass(root, checkouts):
    promotions = root / "promotions" / "break-glass"
    _write_record(promotions, "staging", "1.0.0", ARTIFACT_SHA256)
    runs = {}
    for typed in ("OPS-1234", "yes"):
        runs[typed] = run_playbook_interactive(
            checkouts["fleet"], "provision-stack.yml", "-e", "change_ticket=OPS-1234",
            inventory="inventories/production", answer=typed, expect="Type the ticket id",
            env={"STACKGUARD_PROMOTIONS_DIR": str(promotions)})
    return runs


def test_break_glass_goes_on_when_the_ticket_is_typed_again(break_glass):
    run = break_glass["OPS-1234"]
    assert run["answered"], run["output"]
    assert "BREAK GLASS: this run changes production outside the pipeline" in run["output"]
    assert "Refused:" not in run["output"], run["output"]
    assert "No such container: sg-test-ghost-prod-web" in run["output"]


def test_break_glass_stops_when_something_else_is_typed(break_glass):
    run = break_glass["yes"]
    assert run["answered"], run["output"]
    assert run["rc"] != 0
    assert "Refused: a break-glass run of production under change ticket OPS-1234" in run["output"]
    assert "No such container" not in run["output"]
    assert all(counts["changed"] == 0 for counts in run["recap"].values()), run["output"]

