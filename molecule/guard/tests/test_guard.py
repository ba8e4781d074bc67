"""Every refusal of the preflight guards leaves real hosts exactly as they were; an accepted run reaches them.

The runs come from committed copies of this working tree (preflight_testing.make_checkout) whose
inventories/ declare a fake staging (sg-mol-grd-stg1, 172.29.95.0/26) and production
(sg-mol-grd-prd1, 172.29.95.128/26) with the repository's own change_control.yml files. Each refused
case runs site.yml, which would install the whole stack on the hosts if it got past preflight, and
each host is compared, after every case, with its state before the first: the mtime, size and mode
of every file under the directories Ansible or apt would touch, the dpkg database and holds,
`docker diff` and the container's process.
"""

import json
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import ansible
import pytest
from preflight_testing import (
    ARTIFACT_SHA256, PIPELINE, environment, host_tasks, make_checkout, run_playbook)

CONTAINERS = {"stg1": "sg-mol-grd-stg1", "prd1": "sg-mol-grd-prd1"}
PHP82 = {"name": "php82-apache24", "revision": 1}
RECORD_PLAYBOOK = "tests/integration/playbooks/record-promotion.yml"
# Where Ansible, apt, the stack and the app write; the rest of /usr only changes through dpkg, whose
# database is hashed, and shows in `docker diff`.
WATCHED = "/etc /srv /var /root /home /opt /tmp /usr/local"
SNAPSHOT = rf"""set -eu
sha256sum /var/lib/dpkg/status
apt-mark showhold | sort
find {WATCHED} -xdev -printf '%p %T@ %s %m\n' 2>/dev/null | sort
"""


def staging(network="172.29.95.0/26"):
    return environment("staging", network, {"stg1": "172.29.95.11"}, stack=PHP82, container_prefix="sg-mol-grd-")


def production(network="172.29.95.128/26"):
    return environment("production", network, {"prd1": "172.29.95.140"}, container_prefix="sg-mol-grd-")


RELEASE_OVERRIDE = json.dumps({"stackguard_app_release": {
    "version": "1.0.1", "artifact": "/tmp/stackguard-app-1.0.1.tar.gz", "sha256": "0" * 64}})

# case -> (environments of the checkout, inventory, extra arguments, environment variables, records
# in staging, the refusal's opening)
CASES = {
    "wrong-network": ([staging(), production("172.29.95.64/26")], "production", [], PIPELINE, True,
                      "Refused: a run while production's host prd1 has address 172.29.95.140 outside "
                      "production's networks (172.29.95.64/26)"),
    "overlapping-environments": ([staging("172.29.95.0/24"), production()], "staging", [], {}, False,
                                 "Refused: a run while production's network 172.29.95.128/26 overlaps "
                                 "staging's network 172.29.95.0/24"),
    "two-environments-in-one-run": ([staging(), production()], "staging", ["-i", "inventories/production"],
                                    PIPELINE, True,
                                    "Refused: a run that loads the inventories of production and staging"),
    "production-from-a-non-pipeline-run": ([staging(), production()], "production", [], {}, True,
                                           "Refused: a run of production from outside the pipeline"),
    "ad-hoc-release-on-production": ([staging(), production()], "production", ["-e", RELEASE_OVERRIDE],
                                     PIPELINE, True, "Refused: -e stackguard_app_release on production"),
    "release-never-seen-in-staging": ([staging(), production()], "production", [], PIPELINE, False,
                                      f"Refused: release 1.0.0 on production (sha256 {ARTIFACT_SHA256[:12]}…)"),
    "toolchain-mismatch": ([staging(), production()], "production", [],
                           dict(PIPELINE, ANSIBLE_COLLECTIONS_PATH="{shadow}"), True,
                           "Refused: a run from a controller whose toolchain differs from the pins"),
}


def snapshot(container):
    """What a run that changed anything on the host would have changed."""
    inside = subprocess.run(["docker", "exec", container, "sh", "-c", SNAPSHOT], capture_output=True,
                            text=True, check=True).stdout.splitlines()
    diff = subprocess.run(["docker", "diff", container], capture_output=True, text=True, check=True).stdout
    state = subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}} {{.State.StartedAt}} {{.RestartCount}}",
                            container], capture_output=True, text=True, check=True).stdout.strip()
    return {"files": inside, "docker_diff": sorted(diff.splitlines()), "process": state}


def snapshots():
    with ThreadPoolExecutor(max_workers=len(CONTAINERS)) as pool:
        return dict(zip(CONTAINERS, pool.map(snapshot, CONTAINERS.values())))


def _shadow_collection(root):
    """A copy of ansible.utils of another version where Ansible looks first: a drifted controller."""
    installed = Path(ansible.__file__).resolve().parents[1] / "ansible_collections" / "ansible" / "utils"
    copy = shutil.copytree(installed, root / "collections" / "ansible_collections" / "ansible" / "utils")
    manifest = json.loads((copy / "MANIFEST.json").read_text())
    manifest["collection_info"]["version"] = "6.0.99"
    (copy / "MANIFEST.json").write_text(json.dumps(manifest))
    return str(root / "collections")


def _record_promotion(checkout, promotions):
    """The staging deploy's promotion record, written by the real promotion_record tasks."""
    result = run_playbook(checkout, RECORD_PLAYBOOK, inventory="inventories/staging",
                          env={"STACKGUARD_PROMOTIONS_DIR": str(promotions)})
    assert result["rc"] == 0, result["output"][-3000:]
    assert (promotions / "staging" / f"{ARTIFACT_SHA256}.json").exists()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    root = tmp_path_factory.mktemp("guard")
    shadow = _shadow_collection(root)
    # A clean checkout of a sound fleet: staging records the artifact, then the controls.
    accepted = make_checkout(root / "accepted", [staging(), production()])
    recorded, empty = root / "promotions" / "recorded", root / "promotions" / "empty"
    _record_promotion(accepted, recorded)
    before = snapshots()
    results, after = {}, {}
    for case, (environments, inventory, args, env, with_record, _) in CASES.items():
        checkout = make_checkout(root / case, environments)
        variables = {k: v.format(shadow=shadow) for k, v in env.items()}
        variables["STACKGUARD_PROMOTIONS_DIR"] = str(recorded if with_record else empty)
        results[case] = run_playbook(checkout, "site.yml", *args, inventory=f"inventories/{inventory}", env=variables)
        after[case] = snapshots()
    # Runs the guards accept, read-only (verify.yml), side by side.
    with ThreadPoolExecutor(max_workers=2) as pool:
        production_run = pool.submit(run_playbook, accepted, "verify.yml", inventory="inventories/production",
                                     env=dict(PIPELINE, STACKGUARD_PROMOTIONS_DIR=str(recorded)))
        staging_run = pool.submit(run_playbook, accepted, "verify.yml", inventory="inventories/staging",
                                  env={"STACKGUARD_PROMOTIONS_DIR": str(empty)})
        controls = {"production": production_run.result(), "staging": staging_run.result()}
    return {"before": before, "results": results, "after": after, "accepted": controls}


@pytest.mark.parametrize("case", CASES)
def test_each_guard_refuses_saying_what_why_and_instead(guarded, case):
    result = guarded["results"][case]
    assert result["rc"] != 0, result["output"][-3000:]
    assert result["msg"] is not None, result["output"][-3000:]
    assert CASES[case][-1] in result["msg"], result["msg"]
    assert re.search(r"Refused: .+\. Why: .+\. Instead: .+\.", result["msg"], re.S), result["msg"]
    assert host_tasks(result["stdout"]) == [], result["stdout"][-3000:]
    assert all(counts["changed"] == 0 for counts in result["recap"].values()), result["recap"]


@pytest.mark.parametrize("case", CASES)
def test_no_refused_run_changed_any_host(guarded, case):
    for name in CONTAINERS:
        assert guarded["after"][case][name] == guarded["before"][name], (case, name)


def test_the_snapshot_sees_a_change_made_on_the_host(guarded):
    container = CONTAINERS["stg1"]
    subprocess.run(["docker", "exec", container, "touch", "/etc/hostname"], check=True)
    assert snapshot(container)["files"] != guarded["before"]["stg1"]["files"]


@pytest.mark.parametrize("environment_name, host", [("production", "prd1"), ("staging", "stg1")])
def test_a_run_the_guards_accept_reaches_the_hosts(guarded, environment_name, host):
    result = guarded["accepted"][environment_name]
    assert "Refused:" not in result["output"], result["output"][-3000:]
    assert "PLAY [Compare each host with its pinned stack]" in result["stdout"]
    assert result["recap"][host]["unreachable"] == 0
    # A bare host drifts from its pinned stack: verify.yml says so, which only a run that reached it can.
    assert re.search(rf"\b{host}\b.*drift", result["stdout"]), result["stdout"][-3000:]
