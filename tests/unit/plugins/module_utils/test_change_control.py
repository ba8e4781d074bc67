"""change_control: policies, the pipeline's identity, break-glass, pins and extra variables, checkouts."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.change_control import (
    DEFAULT_POLICY, PolicyError, checkout_state, checkout_verdict, evaluate, override_refusals, parse_policy,
    pipeline_identity, pipeline_verdict, refusal)

REPO = Path(__file__).resolve().parents[4]
REFUSAL = re.compile(r"^Refused: .+\. Why: .+\. Instead: .+\.$", re.S)


def repo_policy(environment):
    path = REPO / "inventories" / environment / "group_vars" / "all" / "change_control.yml"
    return parse_policy(yaml.safe_load(path.read_text())["stackguard_change_control"], str(path))


PRODUCTION = repo_policy("production")
STAGING = repo_policy("staging")
CI = PRODUCTION["ci_identity"]
PIPELINE_ENV = {"CI": "true", "GITHUB_RUN_ID": "4242", "GITHUB_REF": "refs/heads/main"}


def test_a_refusal_says_what_why_and_instead():
    assert refusal("x", "y", "z") == "Refused: x. Why: y. Instead: z."


# Policies ---------------------------------------------------------------------------------------

def test_the_repository_policies_parse():
    assert PRODUCTION["require_pipeline"] and PRODUCTION["break_glass"] and PRODUCTION["pinned_only"]
    assert PRODUCTION["require_promotion_from"] == "staging" and not PRODUCTION["record_promotions"]
    assert STAGING["record_promotions"] and not STAGING["require_pipeline"]
    assert repo_policy("local") == dict(DEFAULT_POLICY)


def test_no_policy_requires_nothing():
    assert parse_policy(None, "x") == DEFAULT_POLICY


@pytest.mark.parametrize("data, error", [
    ({"require_pipline": True}, "f.yml: stackguard_change_control.require_pipline: unknown field"),
    ({"require_pipeline": "yes", "ci_identity": {"run_id_env": ["R"], "branch": "main"}},
     "stackguard_change_control.require_pipeline: expected true or false, got 'yes'"),
    ({"require_pipeline": True}, "stackguard_change_control.ci_identity: required when require_pipeline is true"),
    ({"ci_identity": {"run_id_env": [], "branch": "main"}}, "ci_identity.run_id_env: expected a non-empty list"),
    ({"ci_identity": {"run_id_env": ["R"], "branch": "main", "user": "x"}}, "ci_identity.user: unknown field"),
    ({"ci_identity": {"run_id_env": ["R"], "branch": "main", "env": {"CI": True}}}, "ci_identity.env: expected"),
    ({"ci_identity": {"run_id_env": ["R"]}}, "ci_identity.branch: expected the branch"),
    ({"change_ticket_pattern": "[A-Z"}, "change_ticket_pattern: not a regular expression"),
    ({"allowed_extra_vars": "change_ticket"}, "allowed_extra_vars: expected a list of variable names"),
    ({"require_promotion_from": ""}, "require_promotion_from: expected an environment name"),
    (["require_pipeline"], "f.yml: stackguard_change_control: expected a mapping, got list"),
])
def test_a_policy_that_cannot_be_used_names_file_and_field(data, error):
    with pytest.raises(PolicyError) as caught:
        parse_policy(data, "f.yml")
    assert error in str(caught.value)


# The pipeline ----------------------------------------------------------------------------------

@pytest.mark.parametrize("environ, branch, identified, missing", [
    (PIPELINE_ENV, None, True, []),
    ({"CI": "true", "GITHUB_RUN_ID": "1"}, "main", True, []),
    ({}, "main", False, ["CI=true (CI is unset)", "a pipeline run id in GITHUB_RUN_ID (unset)"]),
    ({"CI": "1", "GITHUB_RUN_ID": "1"}, "main", False, ["CI=true (CI is '1')"]),
    (dict(PIPELINE_ENV, GITHUB_REF="refs/heads/feature"), "main", False, [
        "branch main (GITHUB_REF=refs/heads/main or a checkout of it; GITHUB_REF is 'refs/heads/feature')"]),
    (dict(PIPELINE_ENV, GITHUB_REF="refs/tags/v1.0.0"), "main", False, [
        "branch main (GITHUB_REF=refs/heads/main or a checkout of it; GITHUB_REF is 'refs/tags/v1.0.0')"]),
    ({"CI": "true", "GITHUB_RUN_ID": "1"}, None, False, [
        "branch main (GITHUB_REF=refs/heads/main or a checkout of it; the checkout is on a detached HEAD)"]),
    ({"CI": "true", "GITHUB_RUN_ID": "1", "GITHUB_REF": ""}, "wip", False, [
        "branch main (GITHUB_REF=refs/heads/main or a checkout of it; the checkout is on branch 'wip')"]),
])
def test_the_pipeline_is_recognised_by_its_declared_identity(environ, branch, identified, missing):
    identity = pipeline_identity(CI, environ, branch)
    assert (identity["identified"], identity["missing"]) == (identified, missing)
    assert identity["run_id"] == environ.get("GITHUB_RUN_ID")


@pytest.mark.parametrize("policy, environ, ticket, mode, fragment", [
    (STAGING, {}, "", "not-required", None),
    (PRODUCTION, PIPELINE_ENV, "", "pipeline", None),
    (PRODUCTION, PIPELINE_ENV, "OPS-1", "pipeline", None),
    (PRODUCTION, {}, "OPS-1234", "break-glass", None),
    (PRODUCTION, {}, " OPS-1234 ", "break-glass", None),
    (PRODUCTION, {}, "", "refused", "no change ticket was given for a break-glass run"),
    (PRODUCTION, {}, "fix it", "refused", "'fix it' is not a change ticket id"),
    (dict(PRODUCTION, break_glass=False), {}, "OPS-1", "refused",
     "Instead: merge the change to the main branch and let the pipeline run it."),
])
def test_outside_the_pipeline_only_a_declared_break_glass_goes_on(policy, environ, ticket, mode, fragment):
    identity = pipeline_identity(policy["ci_identity"], environ, "main")
    verdict, text = pipeline_verdict(policy, identity, ticket, "production", "cc.yml")
    assert verdict == mode
    if fragment is None:
        assert text is None
    else:
        assert REFUSAL.match(text) and fragment in text
        assert text.startswith("Refused: a run of production from outside the pipeline")


# Pins and extra variables -------------------------------------------------------------------------

PINNED = {"release": {"version": "1.0.0", "artifact": "https://a/x.tar.gz", "sha256": "ab" * 32},
          "stack": {"name": "php74-apache24", "revision": 1}}


def difference(kind, run, pinned=None, comparable=True, hosts=("prod-web1",)):
    return {"kind": kind, "hosts": list(hosts), "run": run, "pinned": pinned or PINNED[kind], "source": "vars.yml",
            "comparable": comparable}


def overrides(policy, extra_vars=(), differences=()):
    return override_refusals(policy, "production", list(extra_vars), list(differences), "vars.yml", "cc.yml")


def test_the_pinned_release_and_stack_with_allowed_extra_vars_pass():
    assert overrides(PRODUCTION, ["change_ticket", "rollback_to"]) == []


@pytest.mark.parametrize("extra_vars, differences, expected", [
    (["stackguard_app_release"], [difference("release", dict(PINNED["release"], version="1.0.1"))], [
        "Refused: -e stackguard_app_release on production",
        "Refused: release {artifact: https://a/x.tar.gz, sha256: " + "ab" * 32 + ", version: 1.0.1} on production "
        "(prod-web1). Why: production's inventory pins release {artifact: https://a/x.tar.gz, sha256: "]),
    (["app_release"], [], ["Refused: -e app_release on production"]),
    (["app_deploy_release"], [], ["Refused: -e app_deploy_release on production"]),
    (["stackguard_stack"], [difference("stack", {"name": "php82-apache24", "revision": 1}, hosts=["a", "b"])], [
        "Refused: -e stackguard_stack on production",
        "Refused: stack {name: php82-apache24, revision: 1} on production (a, b)"]),
    ([], [difference("release", PINNED["release"], {"version": "{{ v }}"}, comparable=False)], [
        "Refused: a run of production whose release pin cannot be checked (prod-web1). Why: the pin in vars.yml "
        "is a template"]),
    (["foo", "change_ticket", "bar"], [], ["Refused: -e bar, foo on production"]),
])
def test_production_refuses_anything_but_its_pins(extra_vars, differences, expected):
    refusals = overrides(PRODUCTION, extra_vars, differences)
    assert len(refusals) == len(expected), refusals
    for fragment in expected:
        assert any(r.startswith(fragment) for r in refusals), refusals
    assert all(REFUSAL.match(r) for r in refusals)


def test_staging_accepts_ad_hoc_releases():
    assert overrides(STAGING, ["stackguard_app_release", "foo"],
                     [difference("release", dict(PINNED["release"], version="9"))]) == []


# Checkouts -----------------------------------------------------------------------------------------

def git(directory, *args):
    subprocess.run(["git", "-C", str(directory), "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
                   check=True, capture_output=True)


@pytest.fixture
def checkout(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / ".gitignore").write_text("/.cache/\n")
    (repo / "site.yml").write_text("---\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "one")
    return repo


def test_a_clean_checkout_records_its_commit_and_branch(checkout):
    (checkout / ".cache").mkdir()
    (checkout / ".cache" / "facts").write_text("ignored files do not count\n")
    state = checkout_state(str(checkout / ".cache"))
    head = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert state == {"path": str(checkout), "commit": head.strip(), "branch": "main", "dirty": False, "changes": []}
    assert checkout_verdict(PRODUCTION, state, "production", "cc.yml") == (None, None)


@pytest.mark.parametrize("change, listed", [
    (lambda repo: (repo / "site.yml").write_text("--- # edited\n"), " M site.yml"),
    (lambda repo: (repo / "new.yml").write_text("---\n"), "?? new.yml"),
])
def test_uncommitted_changes_are_refused_on_production_and_a_warning_elsewhere(checkout, change, listed):
    change(checkout)
    state = checkout_state(str(checkout))
    assert state["dirty"] is True and state["changes"] == [listed]
    refused, warning = checkout_verdict(PRODUCTION, state, "production", "cc.yml")
    assert warning is None and REFUSAL.match(refused)
    assert refused.startswith(f"Refused: a run of production from a checkout with uncommitted changes ({listed[3:]})")
    refused, warning = checkout_verdict(STAGING, state, "staging", "cc.yml")
    assert refused is None and f"has uncommitted changes ({listed[3:]})" in warning


def test_a_detached_checkout_has_no_branch(checkout):
    git(checkout, "checkout", "-q", "--detach")
    assert checkout_state(str(checkout))["branch"] is None


def test_outside_a_checkout_nothing_is_recorded_and_production_refuses(tmp_path):
    state = checkout_state(str(tmp_path))
    assert (state["commit"], state["dirty"]) == (None, None)
    refused, _ = checkout_verdict(PRODUCTION, state, "production", "cc.yml")
    assert refused.startswith(f"Refused: a run of production from {tmp_path}, which is not a git checkout")
    assert checkout_verdict(STAGING, state, "staging", "cc.yml")[1].endswith("no commit is recorded for this run")


def test_evaluate_puts_the_verdicts_together(checkout):
    result = evaluate(environment="production", policy=PRODUCTION, policy_source="cc.yml",
                      checkout=checkout_state(str(checkout)), environ=PIPELINE_ENV, ticket="",
                      extra_vars=["rollback_to"], differences=[], pins_source="vars.yml")
    assert result == {"pipeline": {"mode": "pipeline", "refusal": None, "run_id": "4242", "branch": "main",
                                   "missing": []},
                      "checkout": {"refusal": None, "warning": None}, "overrides": []}
