"""stack_check: comparing a host's stack facts with its slice of a real stack manifest.

The manifests are stacks/php74-apache24.yml and stacks/php82-apache24.yml, loaded with PyYAML as
the controller loads them. A host in sync is built from the manifest (every pinned package at its
version and held, runtimes at their versions, services active and enabled) plus the REAL loaded
PHP extensions and Apache modules of the matching stack: ``php -m`` and ``apache2ctl -M`` outputs
captured on the local environment's web1 (bullseye) and Molecule's bookworm instance, stored in
fixtures/stack_facts/ (see test_stack_facts.py). Each drift case is that host with one change.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ansible.module_utils.stack_check import (
    apache_module_id, compare, diff, drift_item, pinned_packages, pinned_services, runtimes_for,
    summary, table, version_matches)
from ansible.module_utils.stack_facts import parse_apache_modules, parse_php_modules

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[3]
FIXTURES = HERE / "fixtures" / "stack_facts"


def _manifest(name):
    return yaml.safe_load((REPO / "stacks" / f"{name}.yml").read_text(encoding="utf-8"))


PHP74 = _manifest("php74-apache24")
PHP82 = _manifest("php82-apache24")
LOADED = {
    "php74-apache24": (
        parse_php_modules((FIXTURES / "bullseye-php-m.txt").read_text(encoding="utf-8")),
        parse_apache_modules((FIXTURES / "bullseye-apache2ctl-M.txt").read_text(encoding="utf-8"))),
    "php82-apache24": (
        parse_php_modules((FIXTURES / "bookworm-php-m.txt").read_text(encoding="utf-8")),
        parse_apache_modules((FIXTURES / "bookworm-apache2ctl-M.txt").read_text(encoding="utf-8"))),
}
ALL = ["web", "db", "lb"]


def in_sync(manifest, groups=ALL):
    """The facts stack_facts would gather on a host that runs exactly its slice of `manifest`."""
    packages = {}
    for group in groups:
        packages.update(manifest["packages"].get(group, {}))
    runtime = manifest["runtime"]
    extensions, modules = LOADED[manifest["name"]]
    services = sorted({s for g in groups for s in manifest["services"].get(g, [])})
    return {
        "packages": dict(sorted(packages.items())),
        "holds": sorted(packages),
        "php": {"version": runtime["php"], "extensions": list(extensions)} if "web" in groups else None,
        "apache": {"version": runtime["apache"], "modules": list(modules)} if "web" in groups else None,
        "mariadb": {"version": runtime["mariadb"]} if "db" in groups else None,
        "haproxy": {"version": runtime["haproxy"]} if "lb" in groups else None,
        "services": {s: {"active": "active", "enabled": "enabled"} for s in services},
    }


def item(kind, name, expected, actual):
    return {"kind": kind, "name": name, "expected": expected, "actual": actual}


# Mutations of an in-sync host (each gets its own deep copy).
def set_package(name, version):
    def change(facts):
        facts["packages"][name] = version
        if version is None:
            facts["holds"].remove(name)  # `apt-mark showhold` lists installed packages only
    return change


def unhold(name):
    return lambda facts: facts["holds"].remove(name)


def set_runtime(name, value):
    def change(facts):
        facts[name] = value
    return change


def drop_extension(name):
    def change(facts):
        facts["php"]["extensions"].remove(name)
    return change


def replace_module(old, new=None):
    def change(facts):
        modules = facts["apache"]["modules"]
        modules.remove(old)
        if new:
            modules.append(new)
    return change


def set_service(name, active, enabled):
    def change(facts):
        facts["services"][name] = {"active": active, "enabled": enabled}
    return change


def drop_service(name):
    return lambda facts: facts["services"].pop(name)


def lower_extensions(facts):
    facts["php"]["extensions"] = [e.lower() for e in facts["php"]["extensions"]]


P74 = "7.4.33-1+deb11u12"
RANGE = ">= 7.4.33-1+deb11u5, << 7.5"

# (id, manifest, groups, mutations, package_ranges, expected drift)
CASES = [
    ("in-sync-web", PHP74, ["web"], [], None, []),
    ("in-sync-db", PHP74, ["db"], [], None, []),
    ("in-sync-lb", PHP74, ["lb"], [], None, []),
    ("in-sync-all-groups", PHP74, ALL, [], None, []),
    ("in-sync-php82-web", PHP82, ["web"], [], None, []),
    ("in-sync-extensions-lowercase", PHP74, ["web"], [lower_extensions], None, []),
    ("package-other-version", PHP74, ["web"], [set_package("php7.4-intl", "7.4.33-1+deb11u99")], None,
     [item("package", "php7.4-intl", P74, "7.4.33-1+deb11u99")]),
    ("package-epoch-dropped", PHP74, ["db"], [set_package("mariadb-server", "10.5.29-0+deb11u1")], None,
     [item("package", "mariadb-server", "1:10.5.29-0+deb11u1", "10.5.29-0+deb11u1")]),
    ("package-not-installed-no-hold-item", PHP74, ["web"], [set_package("php7.4-intl", None)], None,
     [item("package", "php7.4-intl", P74, "not installed")]),
    ("package-absent-from-facts", PHP74, ["lb"], [lambda f: f["packages"].clear(), lambda f: f["holds"].clear()],
     None, [item("package", "haproxy", "2.2.9-2+deb11u7", "not installed")]),
    ("range-accepted", PHP74, ["web"], [set_package("php7.4-cli", "7.4.33-1+deb11u13")],
     {"php7.4-cli": RANGE}, []),
    ("range-accepted-lower-bound", PHP74, ["web"], [set_package("php7.4-cli", "7.4.33-1+deb11u5")],
     {"php7.4-cli": RANGE}, []),
    ("range-rejected-above", PHP74, ["web"], [set_package("php7.4-cli", "7.5.0-1")],
     {"php7.4-cli": RANGE}, [item("package", "php7.4-cli", RANGE, "7.5.0-1")]),
    ("range-rejected-below", PHP74, ["web"], [set_package("php7.4-cli", "7.4.33-1+deb11u4")],
     {"php7.4-cli": RANGE}, [item("package", "php7.4-cli", RANGE, "7.4.33-1+deb11u4")]),
    ("range-not-installed", PHP74, ["web"], [set_package("php7.4-cli", None)],
     {"php7.4-cli": RANGE}, [item("package", "php7.4-cli", RANGE, "not installed")]),
    ("exact-without-range-rejects-newer", PHP74, ["web"], [set_package("php7.4-cli", "7.4.33-1+deb11u13")],
     None, [item("package", "php7.4-cli", P74, "7.4.33-1+deb11u13")]),
    ("range-for-a-package-outside-the-slice-ignored", PHP74, ["lb"], [], {"php7.4-cli": RANGE}, []),
    ("hold-missing", PHP74, ["web"], [unhold("apache2")], None, [item("hold", "apache2", "held", "not held")]),
    ("hold-missing-and-other-version", PHP74, ["lb"], [set_package("haproxy", "2.2.9-2+deb11u6"), unhold("haproxy")],
     None, [item("package", "haproxy", "2.2.9-2+deb11u7", "2.2.9-2+deb11u6"),
            item("hold", "haproxy", "held", "not held")]),
    ("no-holds-at-all", PHP74, ["lb"], [lambda f: f.update(holds=None)], None,
     [item("hold", "haproxy", "held", "not held")]),
    ("runtime-mismatch", PHP74, ["web"], [lambda f: f["php"].update(version="7.4.30")], None,
     [item("runtime", "php", "7.4.33", "7.4.30")]),
    ("runtime-prefix-is-not-a-match", PHP74, ["db"], [set_runtime("mariadb", {"version": "10.5.2"})], None,
     [item("runtime", "mariadb", "10.5.29", "10.5.2")]),
    ("runtime-with-debian-suffix-matches", PHP74, ["lb"], [set_runtime("haproxy", {"version": "2.2.9-2+deb11u7"})],
     None, []),
    ("runtime-version-unparsed", PHP74, ["lb"], [set_runtime("haproxy", {"version": None})], None,
     [item("runtime", "haproxy", "2.2.9", "not installed")]),
    ("runtime-absent-haproxy", PHP74, ["lb"], [set_runtime("haproxy", None)], None,
     [item("runtime", "haproxy", "2.2.9", "not installed")]),
    ("runtime-absent-php", PHP74, ["web"], [set_runtime("php", None)], None,
     [item("runtime", "php", "7.4.33", "not installed")]
     + [item("extension", e, "loaded", "not loaded")
        for e in ["mysqli", "pdo_mysql", "mbstring", "intl", "json", "Zend OPcache"]]),
    ("runtime-absent-apache", PHP74, ["web"], [set_runtime("apache", None)], None,
     [item("runtime", "apache", "2.4.67", "not installed")]
     + [item("apache_module", m, "loaded", "not loaded") for m in ["mpm_prefork", "php7.4", "headers"]]),
    ("extension-missing", PHP74, ["web"], [drop_extension("intl")], None,
     [item("extension", "intl", "loaded", "not loaded")]),
    ("extension-missing-zend-opcache", PHP74, ["web"], [drop_extension("Zend OPcache")], None,
     [item("extension", "Zend OPcache", "loaded", "not loaded")]),
    ("extension-missing-php82", PHP82, ["web"], [drop_extension("pdo_mysql")], None,
     [item("extension", "pdo_mysql", "loaded", "not loaded")]),
    ("apache-mpm-event-instead-of-prefork", PHP74, ["web"], [replace_module("mpm_prefork_module", "mpm_event_module")],
     None, [item("apache_module", "mpm_prefork", "loaded", "not loaded")]),
    ("apache-php7-module-missing", PHP74, ["web"], [replace_module("php7_module")], None,
     [item("apache_module", "php7.4", "loaded", "not loaded")]),
    ("apache-php8-module-on-a-php74-host", PHP74, ["web"], [replace_module("php7_module", "php_module")], None,
     [item("apache_module", "php7.4", "loaded", "not loaded")]),
    ("apache-php7-module-on-a-php82-host", PHP82, ["web"], [replace_module("php_module", "php7_module")], None,
     [item("apache_module", "php8.2", "loaded", "not loaded")]),
    ("apache-headers-missing-php82", PHP82, ["web"], [replace_module("headers_module")], None,
     [item("apache_module", "headers", "loaded", "not loaded")]),
    ("service-inactive", PHP74, ["web"], [set_service("apache2", "inactive", "enabled")], None,
     [item("service", "apache2", "active/enabled", "inactive/enabled")]),
    ("service-failed", PHP74, ["db"], [set_service("mariadb", "failed", "enabled")], None,
     [item("service", "mariadb", "active/enabled", "failed/enabled")]),
    ("service-disabled", PHP74, ["lb"], [set_service("haproxy", "active", "disabled")], None,
     [item("service", "haproxy", "active/enabled", "active/disabled")]),
    ("service-unknown", PHP74, ["lb"], [set_service("haproxy", "unknown", "unknown")], None,
     [item("service", "haproxy", "active/enabled", "unknown/unknown")]),
    ("service-not-reported", PHP74, ["web"], [drop_service("apache2")], None,
     [item("service", "apache2", "active/enabled", "unknown/unknown")]),
    # group slicing: an lb host checks haproxy only, whatever else it runs or lacks
    ("lb-ignores-web-and-db", PHP74, ["lb"],
     [set_runtime("php", {"version": "8.2.36", "extensions": []}), set_runtime("mariadb", None),
      lambda f: f["services"].update(apache2={"active": "inactive", "enabled": "disabled"})], None, []),
    ("web-ignores-db-runtime-and-service", PHP74, ["web"], [set_runtime("mariadb", None)], None, []),
]


@pytest.mark.parametrize(("manifest", "groups", "mutations", "ranges", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_compare(manifest, groups, mutations, ranges, expected):
    facts = copy.deepcopy(in_sync(manifest, groups))
    for mutate in mutations:
        mutate(facts)
    before = copy.deepcopy(manifest)
    assert compare(facts, manifest, groups, ranges) == expected
    assert manifest == before  # package_ranges do not leak into the manifest


def test_compare_web_and_db_checks_both():
    facts = in_sync(PHP74, ["web", "db"])
    for name in ("php", "apache", "mariadb"):
        facts[name] = None
    facts["packages"]["mariadb-server"] = None
    facts["holds"].remove("mariadb-server")
    facts["services"] = {}
    drift = compare(facts, PHP74, ["web", "db"])
    kinds = [(i["kind"], i["name"]) for i in drift]
    assert kinds[0] == ("package", "mariadb-server")
    assert [k for k in kinds if k[0] == "runtime"] == [
        ("runtime", "apache"), ("runtime", "mariadb"), ("runtime", "php")]
    assert [k for k in kinds if k[0] == "service"] == [("service", "apache2"), ("service", "mariadb")]
    assert ("runtime", "haproxy") not in kinds and ("package", "haproxy") not in kinds
    assert len([k for k in kinds if k[0] == "extension"]) == 6
    assert len([k for k in kinds if k[0] == "apache_module"]) == 3


def test_lb_host_lacking_everything_reports_only_haproxy():
    facts = {"packages": {}, "holds": [], "php": None, "apache": None, "mariadb": None,
             "haproxy": None, "services": {}}
    assert compare(facts, PHP74, ["lb"]) == [
        item("package", "haproxy", "2.2.9-2+deb11u7", "not installed"),
        item("runtime", "haproxy", "2.2.9", "not installed"),
        item("service", "haproxy", "active/enabled", "unknown/unknown"),
    ]


def test_groups_outside_the_manifest_add_nothing():
    facts = in_sync(PHP74, ["lb"])
    assert compare(facts, PHP74, ["lb", "production", "ungrouped"]) == []
    assert compare({}, PHP74, ["production"]) == []


def _many_drifts():
    facts = in_sync(PHP74, ALL)
    facts["packages"].update({"php7.4-intl": None, "apache2": "2.4.66-1", "haproxy": "2.2.8-1"})
    facts["holds"] = [h for h in facts["holds"] if h not in ("php7.4-intl", "mariadb-common", "apache2-bin")]
    facts["php"]["extensions"] = [e for e in facts["php"]["extensions"] if e not in ("json", "mysqli")]
    facts["apache"]["modules"] = [m for m in facts["apache"]["modules"] if m not in ("headers_module",
                                                                                     "mpm_prefork_module")]
    facts["haproxy"] = None
    facts["mariadb"] = {"version": "10.5.28"}
    facts["services"]["haproxy"]["active"] = "failed"
    facts["services"]["apache2"]["enabled"] = "disabled"
    return facts


def test_compare_order_is_stable():
    drift = compare(_many_drifts(), PHP74, ALL)
    assert [(i["kind"], i["name"]) for i in drift] == [
        ("package", "apache2"), ("package", "haproxy"), ("package", "php7.4-intl"),
        ("hold", "apache2-bin"), ("hold", "mariadb-common"),
        ("runtime", "haproxy"), ("runtime", "mariadb"),
        ("extension", "mysqli"), ("extension", "json"),          # the manifest's order
        ("apache_module", "mpm_prefork"), ("apache_module", "headers"),  # MPM first, then modules
        ("service", "apache2"), ("service", "haproxy"),
    ]
    # the same whatever the order of the groups and of the facts
    shuffled = _many_drifts()
    shuffled["packages"] = dict(reversed(list(shuffled["packages"].items())))
    shuffled["holds"].reverse()
    shuffled["php"]["extensions"].reverse()
    shuffled["services"] = dict(reversed(list(shuffled["services"].items())))
    assert compare(shuffled, PHP74, ["lb", "db", "web"]) == drift


def test_an_invalid_range_is_a_value_error():
    with pytest.raises(ValueError, match="invalid dpkg constraint"):
        compare(in_sync(PHP74, ["web"]), PHP74, ["web"], {"php7.4-cli": ">= 7.4.33, <<"})


def test_a_range_without_spaces_is_still_a_range():
    facts = in_sync(PHP74, ["web"])
    facts["packages"]["php7.4-cli"] = "7.4.33-1+deb11u13"
    assert compare(facts, PHP74, ["web"], {"php7.4-cli": ">=7.4.33-1+deb11u5, <<7.5"}) == []


# --- helpers -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "expected"), [
    ("php7.4", "php7_module"),
    ("php8.2", "php_module"),
    ("php8.4", "php_module"),
    ("headers", "headers_module"),
    ("mpm_prefork", "mpm_prefork_module"),
    ("rewrite", "rewrite_module"),
    ("phpx", "phpx_module"),
])
def test_apache_module_id(name, expected):
    assert apache_module_id(name) == expected


def test_apache_module_ids_match_the_real_outputs():
    for manifest in (PHP74, PHP82):
        _, modules = LOADED[manifest["name"]]
        wanted = [f"mpm_{manifest['apache']['mpm']}"] + manifest["apache"]["modules"]
        assert {apache_module_id(m) for m in wanted} <= set(modules)


@pytest.mark.parametrize(("actual", "expected", "result"), [
    (P74, P74, True),
    ("7.4.33-1+deb11u13", P74, False),
    ("1:10.5.29-0+deb11u1", "1:10.5.29-0+deb11u1", True),
    ("10.5.29-0+deb11u1", "1:10.5.29-0+deb11u1", False),
    ("7.4.33-1+deb11u13", RANGE, True),
    ("7.4.33-1+deb11u5", RANGE, True),
    ("7.4.33-1+deb11u4", RANGE, False),
    ("7.5", RANGE, False),
    ("7.5~rc1", RANGE, True),  # dpkg: 7.5~rc1 << 7.5
    ("2.2.9-2+deb11u7", ">> 2.2.9-2+deb11u6", True),
    ("2.2.9-2+deb11u7", "= 2.2.9-2+deb11u7", True),
    ("2.2.9-2+deb11u7", "<= 2.2.9-2+deb11u6", False),
])
def test_version_matches(actual, expected, result):
    assert version_matches(actual, expected) is result


def test_slices_of_the_manifest():
    assert pinned_packages(PHP74, ["lb"]) == {"haproxy": "2.2.9-2+deb11u7"}
    web_db = pinned_packages(PHP74, ["web", "db"])
    assert set(web_db) == set(PHP74["packages"]["web"]) | set(PHP74["packages"]["db"])
    assert pinned_packages({"name": "x"}, ["web"]) == {}
    assert pinned_services(PHP74, ["web", "db", "lb", "other"]) == ["apache2", "haproxy", "mariadb"]
    assert runtimes_for(PHP74, ["web"]) == ["apache", "php"]
    assert runtimes_for(PHP74, ["db", "lb"]) == ["haproxy", "mariadb"]
    assert runtimes_for(PHP74, ["other"]) == []
    assert runtimes_for({"packages": {"web": {}}}, ["web", "db"]) == ["apache", "php"]


# --- summary, table, diff ----------------------------------------------------------------------

ONE = [drift_item("hold", "apache2", "held", "not held")]
TWO = [drift_item("package", "php7.4-intl", P74, "7.4.33-1+deb11u99"),
       drift_item("runtime", "haproxy", "2.2.9", "not installed")]


@pytest.mark.parametrize(("items", "expected"), [
    ([], "in sync with php74-apache24@1"),
    (ONE, "1 drift item from php74-apache24@1: hold apache2"),
    (TWO, "2 drift items from php74-apache24@1: package php7.4-intl, runtime haproxy"),
])
def test_summary(items, expected):
    assert summary(items, PHP74) == expected


def test_table_aligns_columns():
    text = table(TWO + ONE)
    lines = text.split("\n")
    assert lines == [
        "KIND     NAME         EXPECTED           ACTUAL",
        "package  php7.4-intl  7.4.33-1+deb11u12  7.4.33-1+deb11u99",
        "runtime  haproxy      2.2.9              not installed",
        "hold     apache2      held               not held",
    ]
    for column in ("NAME", "EXPECTED", "ACTUAL"):
        start = lines[0].index(column)
        assert all(line[start - 2:start] == "  " and line[start] != " " for line in lines)
    assert all(line == line.rstrip() for line in lines)


def test_table_of_nothing_is_the_heading_and_values_are_strings():
    assert table([]) == "KIND  NAME  EXPECTED  ACTUAL"
    assert table([drift_item("runtime", "php", 7.4, None)]).split("\n")[1] == "runtime  php   7.4       None"


def test_diff():
    assert diff(TWO, PHP74, "web1") == {
        "before": "package php7.4-intl: 7.4.33-1+deb11u12\nruntime haproxy: 2.2.9\n",
        "after": "package php7.4-intl: 7.4.33-1+deb11u99\nruntime haproxy: not installed\n",
        "before_header": "php74-apache24@1",
        "after_header": "web1",
    }
    assert diff([], PHP82, "web1") == {"before": "", "after": "", "before_header": "php82-apache24@1",
                                       "after_header": "web1"}
