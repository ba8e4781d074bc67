"""The stack filters as Ansible sees them: through FilterModule, failing with AnsibleFilterError.

The manifests are the real stacks/*.yml, loaded with PyYAML as the controller loads them; the
facts are a host in sync with php74-apache24 whose PHP extensions and Apache modules are the real
``php -m`` and ``apache2ctl -M`` outputs of the local environment's web1 (captured in
tests/unit/plugins/module_utils/fixtures/stack_facts/, see test_stack_facts.py there).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible.module_utils.stack_check import compare
from ansible.module_utils.stack_facts import parse_apache_modules, parse_php_modules
from plugins.filter.stack_filters import FilterModule

REPO = Path(__file__).resolve().parents[4]
FIXTURES = REPO / "tests" / "unit" / "plugins" / "module_utils" / "fixtures" / "stack_facts"
FILTERS = FilterModule().filters()
stack_packages_for = FILTERS["stack_packages_for"]
stack_diff = FILTERS["stack_diff"]
pinned_manifest = FILTERS["pinned_manifest"]


def _manifest(name):
    return yaml.safe_load((REPO / "stacks" / f"{name}.yml").read_text(encoding="utf-8"))


PHP74 = _manifest("php74-apache24")
PHP82 = _manifest("php82-apache24")


def web_db_lb_host():
    """stack_facts of a host in every group, in sync with php74-apache24."""
    packages = {}
    for group in ("web", "db", "lb"):
        packages.update(PHP74["packages"][group])
    runtime = PHP74["runtime"]
    return {
        "packages": packages,
        "holds": sorted(packages),
        "php": {"version": runtime["php"], "extensions": parse_php_modules(
            (FIXTURES / "bullseye-php-m.txt").read_text(encoding="utf-8"))},
        "apache": {"version": runtime["apache"], "modules": parse_apache_modules(
            (FIXTURES / "bullseye-apache2ctl-M.txt").read_text(encoding="utf-8"))},
        "mariadb": {"version": runtime["mariadb"]},
        "haproxy": {"version": runtime["haproxy"]},
        "services": {s: {"active": "active", "enabled": "enabled"}
                     for s in ("apache2", "mariadb", "haproxy")},
    }


def test_filter_names():
    assert set(FILTERS) == {"pinned_manifest", "stack_packages_for", "stack_diff"}


# --- pinned_manifest ----------------------------------------------------------------------------

def test_pinned_manifest_picks_the_hosts_own():
    loaded = {"php74-apache24@1": PHP74, "php82-apache24@1": _manifest("php82-apache24")}
    assert pinned_manifest(loaded, {"name": "php74-apache24", "revision": 1}) is PHP74
    assert pinned_manifest(loaded, {"name": "php82-apache24", "revision": "1"})["os"]["release"] == "bookworm"


@pytest.mark.parametrize(("loaded", "pin", "message"), [
    ({"php74-apache24@1": {}}, {"name": "php74-apache24", "revision": 2},
     r"no manifest for stack php74-apache24@2 among those the preflight role loaded \(php74-apache24@1\)"),
    ({}, {"name": "php74-apache24", "revision": 1}, r"\(none\); run the preflight role first"),
    (None, {"name": "php74-apache24", "revision": 1}, r"\(none\)"),
    ({"php74-apache24@1": {}}, {"name": "php74-apache24"}, r"must be \{name, revision\}"),
    ({"php74-apache24@1": {}}, "php74-apache24@1", r"must be \{name, revision\}"),
])
def test_pinned_manifest_names_what_is_missing(loaded, pin, message):
    with pytest.raises(AnsibleFilterError, match=message):
        pinned_manifest(loaded, pin)


# --- stack_packages_for -------------------------------------------------------------------------

@pytest.mark.parametrize(("manifest", "groups", "expected"), [
    (PHP74, ["lb"], {"haproxy": "2.2.9-2+deb11u7"}),
    (PHP74, ["web"], PHP74["packages"]["web"]),
    (PHP74, ["db"], PHP74["packages"]["db"]),
    (PHP74, ["web", "db"], {**PHP74["packages"]["web"], **PHP74["packages"]["db"]}),
    (PHP74, ["db", "web", "lb"], {**PHP74["packages"]["web"], **PHP74["packages"]["db"],
                                  **PHP74["packages"]["lb"]}),
    (PHP82, ["lb", "production"], {"haproxy": "2.6.12-1+deb12u3"}),
    (PHP82, [], {}),
    (PHP82, ["ungrouped"], {}),
    ({"name": "x", "revision": 1}, ["web"], {}),
], ids=["lb", "web", "db", "web+db", "all", "php82-lb-and-env-group", "no-groups", "other-group",
        "no-packages"])
def test_stack_packages_for(manifest, groups, expected):
    assert stack_packages_for(manifest, groups) == expected


def test_stack_packages_for_shares_the_client_packages_of_web_and_db():
    merged = stack_packages_for(PHP74, ["web", "db"])
    assert len(merged) == len(set(PHP74["packages"]["web"]) | set(PHP74["packages"]["db"])) == 20
    assert merged["mariadb-client"] == "1:10.5.29-0+deb11u1"
    assert merged["php7.4-cli"] == "7.4.33-1+deb11u12"
    assert merged["mariadb-server"] == "1:10.5.29-0+deb11u1"


def test_stack_packages_for_does_not_modify_the_manifest():
    manifest = copy.deepcopy(PHP74)
    stack_packages_for(manifest, ["web", "db", "lb"])["apache2"] = "changed"
    assert manifest == PHP74


def _conflicting(source=True):
    manifest = copy.deepcopy(PHP74)
    manifest["packages"]["db"]["mariadb-client"] = "1:10.5.28-0+deb11u1"
    if source:
        manifest["source"] = "stacks/php74-apache24.yml"
    return manifest


def test_stack_packages_for_conflict_names_the_package_versions_and_groups():
    with pytest.raises(AnsibleFilterError) as raised:
        stack_packages_for(_conflicting(), ["web", "db"])
    assert str(raised.value) == (
        "stacks/php74-apache24.yml: package mariadb-client is pinned at 1:10.5.29-0+deb11u1 and "
        "1:10.5.28-0+deb11u1 in two groups of the same host (['web', 'db'])")


def test_stack_packages_for_conflict_without_source_says_manifest():
    with pytest.raises(AnsibleFilterError, match=r"^manifest: package mariadb-client is pinned at "
                                                 r"1:10\.5\.28-0\+deb11u1 and 1:10\.5\.29-0\+deb11u1"):
        stack_packages_for(_conflicting(source=False), ["db", "web"])


def test_stack_packages_for_conflict_only_when_both_groups_apply():
    assert stack_packages_for(_conflicting(), ["db"])["mariadb-client"] == "1:10.5.28-0+deb11u1"
    assert stack_packages_for(_conflicting(), ["web", "lb"])["mariadb-client"] == "1:10.5.29-0+deb11u1"


# --- stack_diff ---------------------------------------------------------------------------------

def _drifting():
    facts = web_db_lb_host()
    facts["packages"]["php7.4-intl"] = "7.4.33-1+deb11u99"
    facts["holds"].remove("haproxy")
    facts["haproxy"] = None
    facts["apache"]["modules"].remove("php7_module")
    facts["services"]["mariadb"] = {"active": "failed", "enabled": "enabled"}
    return facts


@pytest.mark.parametrize("groups", [["web"], ["db"], ["lb"], ["web", "db"], ["web", "db", "lb"], []])
@pytest.mark.parametrize("facts", [web_db_lb_host, _drifting], ids=["in-sync", "drifting"])
def test_stack_diff_is_compare(facts, groups):
    assert stack_diff(facts(), PHP74, groups) == compare(facts(), PHP74, groups)


def test_stack_diff_items():
    assert stack_diff(web_db_lb_host(), PHP74, ["web", "db", "lb"]) == []
    assert stack_diff(_drifting(), PHP74, ["web", "db", "lb"]) == [
        {"kind": "package", "name": "php7.4-intl", "expected": "7.4.33-1+deb11u12",
         "actual": "7.4.33-1+deb11u99"},
        {"kind": "hold", "name": "haproxy", "expected": "held", "actual": "not held"},
        {"kind": "runtime", "name": "haproxy", "expected": "2.2.9", "actual": "not installed"},
        {"kind": "apache_module", "name": "php7.4", "expected": "loaded", "actual": "not loaded"},
        {"kind": "service", "name": "mariadb", "expected": "active/enabled", "actual": "failed/enabled"},
    ]


def test_stack_diff_against_the_other_stack():
    drift = stack_diff(web_db_lb_host(), PHP82, ["web"])
    assert ("apache_module", "php8.2") in [(i["kind"], i["name"]) for i in drift]
    assert ("runtime", "php") in [(i["kind"], i["name"]) for i in drift]
    assert ("package", "php8.2-cli") in [(i["kind"], i["name"]) for i in drift]


@pytest.mark.parametrize(("facts", "manifest", "groups"), [
    (None, PHP74, ["web"]),
    ("not facts", PHP74, ["lb"]),
    ({"packages": ["haproxy"]}, PHP74, ["lb"]),
    (web_db_lb_host(), None, ["web"]),
    (web_db_lb_host(), {"packages": {"lb": ["haproxy"]}}, ["lb"]),
    (web_db_lb_host(), {"packages": {"lb": {"haproxy": 2.2}}}, ["lb"]),  # YAML float, not a string
    (web_db_lb_host(), {"packages": {"lb": {"haproxy": ">= 2.2.9-2+deb11u7, <<"}}}, ["lb"]),
    (web_db_lb_host(), {"packages": {"lb": {}}, "runtime": "2.2.9"}, ["lb"]),
    (web_db_lb_host(), {"packages": {"web": {}}, "apache": {"mpm": "prefork", "modules": [7]}}, ["web"]),
    (web_db_lb_host(), PHP74, None),
], ids=["facts-none", "facts-str", "packages-list", "manifest-none", "group-list", "version-float",
        "bad-range", "runtime-str", "module-int", "groups-none"])
def test_stack_diff_bad_input_is_a_filter_error(facts, manifest, groups):
    with pytest.raises(AnsibleFilterError, match=r"^stack_diff: "):
        stack_diff(facts, manifest, groups)
