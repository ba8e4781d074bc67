"""rollback_plan: which release a rollback goes back to, and every refusal, on real release trees."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.rollback_plan import PlanError, choose, plan
from tests.unit.plugins.module_utils.test_release_compat import facts, write_tree


def record(current, lkg, **statuses):
    """A release record; statuses: v1_2_0=status or v1_2_0=(status, deployed_at) for 1.2.0."""
    releases = {}
    for n, (version, value) in enumerate(statuses.items()):
        status, at = value if isinstance(value, tuple) else (value, f"2026-01-0{n + 1}T00:00:00Z")
        entry = {"status": status, "deployed_at": at}
        if status == "bad":
            entry["reason"] = "health check failed after the switch"
        releases[version[1:].replace("_", ".")] = entry
    return {"current": current, "last_known_good": lkg, "releases": releases}


@pytest.mark.parametrize("state, rollback_to, expected", [
    # after an automatic rollback the host already serves the lkg: the newest good before it
    (record("1.2.0", "1.2.0", v1_0_0="good", v1_1_0="good", v1_2_0="good"), "", "1.1.0"),
    # the deploy went live and is now current, not yet good: back to the lkg
    (record("1.3.0", "1.2.0", v1_1_0="good", v1_2_0="good", v1_3_0="deployed"), "", "1.2.0"),
    # the newest by deployment time, not by name
    (record("2.0.0", "2.0.0", v1_10_0=("good", "2026-01-02T00:00:00Z"),
            v1_9_0=("good", "2026-01-03T00:00:00Z"), v2_0_0=("good", "2026-01-04T00:00:00Z")),
     "", "1.9.0"),
    # bad releases are never the default target
    (record("1.2.0", "1.2.0", v1_0_0="good", v1_1_0="bad", v1_2_0="good"), "", "1.0.0"),
    # an explicit version wins
    (record("1.2.0", "1.2.0", v1_0_0="good", v1_1_0="good", v1_2_0="good"), "1.0.0", "1.0.0"),
])
def test_choose(state, rollback_to, expected):
    assert choose(state, rollback_to, "web1") == expected


def test_choose_with_nowhere_to_go():
    with pytest.raises(PlanError, match="no earlier good release to roll back to on web1"):
        choose(record("1.0.0", "1.0.0", v1_0_0="good"), "", "web1")
    with pytest.raises(PlanError, match="no earlier good release"):
        choose({"current": None, "last_known_good": None, "releases": {}}, "", "web1")


def test_choose_a_bad_release_is_refused_with_its_reason():
    state = record("1.2.0", "1.2.0", v1_1_0="bad", v1_2_0="good")
    with pytest.raises(PlanError, match=r"release 1.1.0 is marked bad on web1 \(health check failed "
                                        r"after the switch\); pick another with -e rollback_to"):
        choose(state, "1.1.0", "web1")


@pytest.fixture
def host(tmp_path):
    """An app root with releases 1.0.0 (PHP ^7.4) and 1.1.0 (PHP ^8.1) and its record."""
    root = tmp_path / "app"
    write_tree(root / "releases" / "1.0.0", {"name": "stackguard/app", "version": "1.0.0",
                                             "require": {"php": "^7.4"}})
    write_tree(root / "releases" / "1.1.0", {"name": "stackguard/app", "version": "1.1.0",
                                             "require": {"php": "^8.1"}})
    (root / "releases" / "1.2.0").mkdir()  # composer.json gone: a pruned leftover
    state_file = tmp_path / "releases.json"
    state_file.write_text(json.dumps(record("1.3.0", "1.3.0", v1_0_0="good", v1_1_0="good",
                                            v1_2_0="good", v1_3_0="good")))
    return root, state_file


def test_plan_checks_the_release_against_this_hosts_runtime(host):
    root, state_file = host
    result = plan(str(root), str(state_file), "1.0.0", lambda: facts(php="7.4.33"), "web1")
    assert result["target"] == "1.0.0" and result["current"] == "1.3.0"
    assert "compatible" in result["compat"]


def test_plan_refuses_a_release_this_php_cannot_run(host):
    root, state_file = host
    with pytest.raises(PlanError, match=r"php.*\^8\.1.*7\.4\.33.*nothing changed") as raised:
        plan(str(root), str(state_file), "1.1.0", lambda: facts(php="7.4.33"), "web1")
    assert raised.value.result["target"] == "1.1.0"
    assert raised.value.result["unmet"][0]["requirement"] == "php"


def test_plan_refuses_a_release_gone_from_the_host_without_gathering_facts(host):
    root, state_file = host

    def never():
        raise AssertionError("facts gathered for a release that is not there")

    with pytest.raises(PlanError, match=r"release 1.2.0 is no longer on web1 \(.*releases/1.2.0\); "
                                        r"deploy it instead"):
        plan(str(root), str(state_file), "", never, "web1")


def test_plan_on_a_host_with_no_record(tmp_path):
    with pytest.raises(PlanError, match="no earlier good release"):
        plan(str(tmp_path), str(tmp_path / "missing.json"), "", dict, "web1")
