"""change_control, through Ansible: the -e variables it sees, the pipeline it recognises, the checkout."""

from __future__ import annotations

import json
import subprocess

import pytest
from tests.unit.plugins.lookup.guard_lookups import ANSIBLE, REPO, lookup

pytestmark = pytest.mark.skipif(not ANSIBLE.exists(), reason="ansible is not installed next to this Python")

GUARD = ("lookup('inventory_guard', hosts=[{'name': 'prod-web1', 'environment': 'production', "
         "'address': '192.0.2.21', 'release': stackguard_app_release | default(none), "
         "'stack': {'name': 'php74-apache24', 'revision': 1}}])")
JUDGE = ("lookup('change_control', environment='production', guard=" + GUARD + ", "
         "change_ticket=change_ticket | default(''))")
PRODUCTION_RELEASE = {"version": "1.0.0",
                      "artifact": "https://artifacts.example.com/stackguard-app/stackguard-app-1.0.0.tar.gz",
                      "sha256": ""}


def test_production_policy_comes_from_its_file_and_sees_every_extra_var():
    release = dict(PRODUCTION_RELEASE, version="9.9.9")
    rc, result = lookup(JUDGE, "-e", json.dumps({"stackguard_app_release": release}), "-e", "foo=1",
                        "-e", "change_ticket=OPS-7")
    assert rc == 0
    assert result["policy_source"] == str(REPO / "inventories" / "production" / "group_vars" / "all" /
                                          "change_control.yml")
    assert result["extra_vars"] == ["change_ticket", "foo", "stackguard_app_release"]
    assert [r.split(". Why")[0] for r in result["overrides"]] == [
        "Refused: -e stackguard_app_release on production",
        "Refused: release {artifact: https://artifacts.example.com/stackguard-app/stackguard-app-1.0.0.tar.gz, "
        "version: 9.9.9} on production (prod-web1)",
        "Refused: -e foo on production"]
    assert result["pipeline"]["mode"] == "break-glass" and result["change_ticket"] == "OPS-7"


def test_the_pipeline_is_recognised_from_the_environment():
    rc, result = lookup(JUDGE, "-e", json.dumps({"stackguard_app_release": PRODUCTION_RELEASE}),
                        env={"CI": "true", "GITHUB_RUN_ID": "31", "GITHUB_REF": "refs/heads/main"})
    assert rc == 0
    assert result["pipeline"] == {"mode": "pipeline", "refusal": None, "run_id": "31", "branch": "main",
                                  "missing": []}
    rc, result = lookup(JUDGE)
    assert result["pipeline"]["mode"] == "refused"
    assert result["pipeline"]["refusal"].startswith("Refused: a run of production from outside the pipeline")


def test_the_checkout_is_this_repository():
    rc, result = lookup(JUDGE)
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert result["checkout"]["commit"] == head.strip()
    assert result["checkout"]["path"] == str(REPO)


def test_an_unusable_policy_fails_naming_the_field():
    rc, message = lookup("lookup('change_control', environment='test', guard={}, policy={'record': true})")
    assert rc != 0
    assert "Refused: a run of test under a change-control policy that cannot be used" in message
    assert "stackguard_change_control.record: unknown field" in message
