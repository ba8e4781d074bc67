"""The pipeline's rules, as written in .github/: what actionlint does not check.

actionlint (make lint) checks that the workflows are valid; these tests check the promises the
pipeline makes: every action pinned to a commit, least privilege, secrets only in jobs that name a
GitHub environment (so they can only be environment secrets), production only through the
protected environment, deploys that never overlap and are never cancelled, the promotion record
handed from staging to production, and a Molecule job for every scenario.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
GITHUB = REPO / ".github"
FILES = sorted(GITHUB.rglob("*.yml"))
PIPELINE = yaml.safe_load((GITHUB / "workflows" / "pipeline.yml").read_text())
DRIFT = yaml.safe_load((GITHUB / "workflows" / "drift-check.yml").read_text())
WORKFLOWS = {"pipeline": PIPELINE, "drift-check": DRIFT}
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def _on(workflow):
    """The triggers: YAML 1.1, as PyYAML reads it, takes the key `on` for true."""
    return workflow.get("on", workflow.get(True))


def _steps(document):
    if "runs" in document:
        return document["runs"]["steps"]
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_action_is_pinned_to_a_commit(path):
    uses = [step["uses"] for step in _steps(yaml.safe_load(path.read_text())) if "uses" in step]
    assert uses, f"{path} uses no action: the scan is broken"
    assert [u for u in uses if not (u.startswith("./") or PINNED.match(u))] == []
    # The tag each commit stands for is written beside it, for the reader and for updates.
    for line in path.read_text().splitlines():
        if re.search(r"uses: [^.][^@]+@[0-9a-f]{40}", line):
            assert re.search(r"# v\d+\.\d+\.\d+$", line), line


@pytest.mark.parametrize("name", WORKFLOWS)
def test_least_privilege(name):
    workflow = WORKFLOWS[name]
    assert workflow["permissions"] == {}
    for job_name, job in workflow["jobs"].items():
        granted = job.get("permissions")
        assert isinstance(granted, dict), f"{name}.{job_name} states no permissions"
        assert all(level in ("read", "none") for scope, level in granted.items() if scope != "issues"), granted
        if granted.get("issues") == "write":
            # The job that may write issues holds no credential of any environment.
            assert "environment" not in job and "secrets." not in yaml.safe_dump(job), job_name


@pytest.mark.parametrize("name", WORKFLOWS)
def test_secrets_only_in_jobs_with_an_environment(name):
    for job_name, job in WORKFLOWS[name]["jobs"].items():
        text = yaml.safe_dump(job)
        if "secrets." in text:
            assert job.get("environment"), f"{name}.{job_name} reads secrets outside an environment"
        assert "secrets.GITHUB_TOKEN" not in text


def test_production_only_through_the_protected_environment_after_staging():
    jobs = PIPELINE["jobs"]
    touching = {name for name, job in jobs.items() if "inventories/production" in yaml.safe_dump(job)}
    assert touching == {"deploy-production"}
    production = jobs["deploy-production"]
    assert production["environment"] == "production"
    assert production["needs"] == "deploy-staging"
    assert jobs["deploy-staging"]["environment"] == "staging"
    for name in ("deploy-staging", "deploy-production"):
        assert jobs[name]["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert set(jobs["deploy-staging"]["needs"]) == {"lint", "unit", "dev-environment", "molecule"}
    assert _on(PIPELINE)["push"] == {"branches": ["main"]}


def test_deploys_of_one_environment_never_overlap_and_are_never_cancelled():
    for name, environment in (("deploy-staging", "staging"), ("deploy-production", "production")):
        assert PIPELINE["jobs"][name]["concurrency"] == {"group": f"deploy-{environment}",
                                                         "cancel-in-progress": False}
    # The workflow-level group cancels superseded pull request checks only.
    assert PIPELINE["concurrency"]["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"


def test_the_promotion_record_goes_from_staging_to_production():
    staging, production = PIPELINE["jobs"]["deploy-staging"], PIPELINE["jobs"]["deploy-production"]
    directory = staging["env"]["STACKGUARD_PROMOTIONS_DIR"]
    assert production["env"]["STACKGUARD_PROMOTIONS_DIR"] == directory
    upload = [s for s in staging["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    download = [s for s in production["steps"] if s.get("uses", "").startswith("actions/download-artifact@")]
    assert len(upload) == 1 and len(download) == 1
    assert upload[0]["with"]["name"] == download[0]["with"]["name"]
    assert upload[0]["with"]["path"] == download[0]["with"]["path"] == "${{ env.STACKGUARD_PROMOTIONS_DIR }}"
    assert upload[0]["with"]["if-no-files-found"] == "error"
    # Uploaded after the deploy, downloaded before it.
    steps = [s.get("name", s.get("uses")) for s in staging["steps"]]
    assert steps.index("Deploy the release staging pins") < steps.index(upload[0]["name"])
    steps = [s.get("name", s.get("uses")) for s in production["steps"]]
    assert steps.index(download[0]["name"]) < steps.index("Deploy the release production pins")


def test_the_deploy_commands_are_the_documented_ones():
    for name, environment in (("deploy-staging", "staging"), ("deploy-production", "production")):
        run = [s["run"] for s in PIPELINE["jobs"][name]["steps"] if "ansible-playbook" in s.get("run", "")]
        assert len(run) == 1
        command = " ".join(run[0].replace("\\\n", " ").split())
        assert command.startswith(f".venv/bin/ansible-playbook -i inventories/{environment} ")
        assert f'--vault-id "{environment}@$RUNNER_TEMP/credentials/vault-password"' in command
        assert command.endswith(" playbooks/deploy.yml")


def test_molecule_runs_every_scenario_the_makefile_runs():
    listing = [s for s in PIPELINE["jobs"]["scenarios"]["steps"] if s.get("id") == "list"][0]["run"]
    assert "molecule/*/molecule.yml" in listing
    makefile = (REPO / "Makefile").read_text()
    assert "$(wildcard molecule/*/molecule.yml)" in makefile
    molecule = PIPELINE["jobs"]["molecule"]
    assert molecule["strategy"]["matrix"]["scenario"] == "${{ fromJSON(needs.scenarios.outputs.list) }}"
    assert molecule["strategy"]["fail-fast"] is False


def test_the_drift_check_is_scheduled_and_alerts():
    assert _on(DRIFT)["schedule"][0]["cron"]
    verify = DRIFT["jobs"]["verify"]
    environments = {leg["environment"] for leg in verify["strategy"]["matrix"]["include"]}
    assert environments == {"staging", "production"}
    assert "playbooks/verify.yml" in yaml.safe_dump(verify)
    alert = DRIFT["jobs"]["alert"]
    assert alert["if"] == "always()" and alert["permissions"] == {"issues": "write"}
    script = [s for s in alert["steps"] if s.get("uses", "").startswith("actions/github-script@")][0]
    for call in ("issues.create(", "issues.createComment(", "issues.update("):
        assert call in script["with"]["script"]
