"""inventory_guard: reading inventories without Ansible, and the refusals over environments and runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.inventory_guard import (
    OpaqueValue, check_declared, check_run, declared_environments, guard, parse_address, parse_networks,
    pin_differences, read_inventory)

REPO = Path(__file__).resolve().parents[4]
INVENTORIES = REPO / "inventories"
REFUSAL = re.compile(r"^Refused: .+\. Why: .+\. Instead: .+\.$", re.S)


def write_inventory(root, name, network, hosts, **extra_vars):
    """inventories/<name>/ with hosts {host: address or {vars}} in group web, group_vars/all/vars.yml."""
    directory = Path(root) / name
    (directory / "group_vars" / "all").mkdir(parents=True)
    entries = {host: value if isinstance(value, dict) else {"stackguard_address": value, "ansible_host": value}
               for host, value in hosts.items()}
    (directory / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"web": {"hosts": entries}}}}))
    variables = {"stackguard_environment": name, "stackguard_networks": network if isinstance(network, list)
                 else [network], **extra_vars}
    (directory / "group_vars" / "all" / "vars.yml").write_text(yaml.safe_dump(variables))
    return directory


def fleet(tmp_path, staging_network="198.51.100.0/24", staging_hosts=None, production_network="192.0.2.0/24",
          production_hosts=None):
    write_inventory(tmp_path, "staging", staging_network, staging_hosts or {"stg-web1": "198.51.100.21"})
    write_inventory(tmp_path, "production", production_network, production_hosts or {"prod-web1": "192.0.2.21"},
                    stackguard_app_release={"version": "1.0.0", "sha256": "ab" * 32})
    return declared_environments(tmp_path)


def run_host(name, environment, address, networks=None, ansible_host=None, inventory_dir=None, release=None,
             stack=None):
    return {"name": name, "environment": environment, "address": address, "networks": networks,
            "ansible_host": ansible_host, "inventory_dir": inventory_dir, "release": release, "stack": stack}


# Reading ----------------------------------------------------------------------------------------

def test_the_repository_inventories_are_read_and_consistent():
    environments, problems = declared_environments(INVENTORIES)
    assert problems == []
    assert check_declared(environments) == []
    assert {name: [str(n) for n in env["networks"]] for name, env in environments.items()} == {
        "local": ["172.29.80.0/24"], "staging": ["198.51.100.0/24"], "production": ["192.0.2.0/24"]}
    assert str(environments["production"]["hosts"]["prod-web1"]["address"]) == "192.0.2.21"
    assert environments["local"]["hosts"]["web1"]["ansible_host"] == "sg-local-web1"
    assert environments["production"]["change_control"]["require_pipeline"] is True
    assert environments["production"]["change_control_source"] == str(
        INVENTORIES / "production" / "group_vars" / "all" / "change_control.yml")


def test_the_vaults_are_never_decrypted_and_inline_vault_values_stay_opaque(tmp_path):
    directory = write_inventory(tmp_path, "staging", "198.51.100.0/24", {"stg-web1": "198.51.100.21"})
    (directory / "group_vars" / "all" / "vault.yml").write_bytes(
        (INVENTORIES / "local" / "group_vars" / "all" / "vault.yml").read_bytes())
    (directory / "host_vars").mkdir()
    (directory / "host_vars" / "stg-web1.yml").write_text(
        "stackguard_address: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6134\nother: !unsafe '{{ x }}'\n")
    inventory = read_inventory(directory)
    assert inventory["errors"] == []
    value, source = inventory["hosts"]["stg-web1"]["vars"]["stackguard_address"]
    assert isinstance(value, OpaqueValue) and source.endswith("host_vars/stg-web1.yml")
    environments, _ = declared_environments(tmp_path)
    [problem] = check_declared(environments)
    assert "staging's host stg-web1 has no usable stackguard_address" in problem


def test_variables_follow_ansible_precedence(tmp_path):
    directory = tmp_path / "staging"
    (directory / "group_vars" / "web").mkdir(parents=True)
    (directory / "group_vars" / "all.yml").write_text(yaml.safe_dump({
        "stackguard_environment": "staging", "stackguard_networks": ["10.0.0.0/8"], "ansible_host": "from-all"}))
    (directory / "group_vars" / "web" / "main.yml").write_text("ansible_host: from-group-web\n")
    (directory / "host_vars").mkdir()
    (directory / "host_vars" / "b.yaml").write_text("stackguard_address: 10.0.0.99\n")
    (directory / "hosts.yml").write_text(yaml.safe_dump({"all": {
        "vars": {"stackguard_address": "10.0.0.1"},
        "children": {"lb": {"hosts": {"a": None}},
                     "app": {"children": {"web": {"hosts": {"b": {"stackguard_address": "10.0.0.2"},
                                                            "c": {"ansible_host": "inline"}}}}}}}}))
    hosts = read_inventory(directory)["hosts"]
    value = {h: {k: v[0] for k, v in r["vars"].items()} for h, r in hosts.items()}
    assert value["a"]["ansible_host"] == "from-all" and value["a"]["stackguard_address"] == "10.0.0.1"
    assert value["b"]["ansible_host"] == "from-group-web" and value["b"]["stackguard_address"] == "10.0.0.99"
    assert value["c"]["ansible_host"] == "inline"
    assert hosts["b"]["groups"] == ["app", "web"]


@pytest.mark.parametrize("text, parsed", [
    ("192.0.2.10", "192.0.2.10"), ("2001:db8::1", "2001:db8::1"), (" 192.0.2.10 ", "192.0.2.10"),
    ("192.0.2.10/24", None), ("{{ ansible_host }}", None), ("web1", None), (3232235777, None), (None, None)])
def test_addresses_are_literal_ip_addresses(text, parsed):
    result = parse_address(text)
    assert (None if result is None else str(result)) == parsed


@pytest.mark.parametrize("value, networks, bad", [
    (["192.0.2.0/24", "2001:db8::/32"], ["192.0.2.0/24", "2001:db8::/32"], []),
    (["192.0.2.7/24"], ["192.0.2.0/24"], []),
    (["192.0.2.0"], [], ["'192.0.2.0'"]),
    (["not-a-net/8"], [], ["'not-a-net/8'"]),
    ([], [], ["(not a non-empty list)"]),
    ("192.0.2.0/24", [], ["(not a non-empty list)"]),
])
def test_networks_are_cidr_lists(value, networks, bad):
    parsed, wrong = parse_networks(value)
    assert [str(n) for n in parsed] == networks and wrong == bad


# The declared environments -------------------------------------------------------------------------

@pytest.mark.parametrize("case, expected", [
    ("overlap", "a run while production's network 192.0.2.0/24 overlaps staging's network 192.0.2.128/25"),
    ("same-host", "a run while host web1 is declared in both production"),
    ("same-address", "a run while staging's host stg-web1 and production's host prod-web1 share the address "
                     "192.0.2.21"),
    ("outside", "a run while production's host prod-web1 has address 10.1.1.1 outside production's networks "
                "(192.0.2.0/24)"),
    ("no-address", "a run while production's host prod-web1 has no usable stackguard_address (got None)"),
    ("bad-network", "a run while staging's networks are not usable: '198.51.100.0'"),
])
def test_declared_environments_that_could_touch_each_other_are_refused(tmp_path, case, expected):
    staging = {"network": "198.51.100.0/24", "hosts": {"stg-web1": "198.51.100.21"}}
    production = {"network": "192.0.2.0/24", "hosts": {"prod-web1": "192.0.2.21"}}
    if case == "overlap":
        staging = {"network": "192.0.2.128/25", "hosts": {"stg-web1": "192.0.2.130"}}
    elif case == "same-host":
        staging["hosts"]["web1"] = "198.51.100.22"
        production["hosts"]["web1"] = "192.0.2.22"
    elif case == "same-address":
        staging = {"network": ["198.51.100.0/24", "192.0.2.16/28"], "hosts": {"stg-web1": "192.0.2.21"}}
    elif case == "outside":
        production["hosts"] = {"prod-web1": "10.1.1.1"}
    elif case == "no-address":
        production["hosts"] = {"prod-web1": {"ansible_host": "192.0.2.21"}}
    elif case == "bad-network":
        staging["network"] = "198.51.100.0"
    write_inventory(tmp_path, "staging", staging["network"], staging["hosts"])
    write_inventory(tmp_path, "production", production["network"], production["hosts"])
    environments, problems = declared_environments(tmp_path)
    problems += check_declared(environments)
    assert any(p.startswith(f"Refused: {expected}") for p in problems), problems
    assert all(REFUSAL.match(p) for p in problems), problems


def test_two_inventories_of_one_environment_and_an_unnamed_one_are_refused(tmp_path):
    write_inventory(tmp_path, "staging", "198.51.100.0/24", {"a": "198.51.100.1"})
    copy = write_inventory(tmp_path, "staging-copy", "198.51.100.0/24", {"b": "198.51.100.2"})
    (copy / "group_vars" / "all" / "vars.yml").write_text("stackguard_environment: staging\n")
    unnamed = write_inventory(tmp_path, "unnamed", "10.0.0.0/8", {"c": "10.0.0.1"})
    (unnamed / "group_vars" / "all" / "vars.yml").write_text("stackguard_networks: [10.0.0.0/8]\n")
    (tmp_path / "notes").mkdir()  # a directory without hosts.yml is not an inventory
    environments, problems = declared_environments(tmp_path)
    assert list(environments) == ["staging"]
    assert [p.split(". Why")[0] for p in problems] == [
        f"Refused: a run while two inventories declare environment 'staging' ({tmp_path / 'staging'} and "
        f"{tmp_path / 'staging-copy'})",
        f"Refused: a run while the inventory {tmp_path / 'unnamed'} names no environment"]


def test_a_missing_inventories_directory_is_a_refusal(tmp_path):
    environments, [problem] = declared_environments(tmp_path / "nowhere")
    assert environments == {} and REFUSAL.match(problem) and "No such file or directory" in problem


# The run ------------------------------------------------------------------------------------------

def test_a_run_of_a_declared_environment_as_committed_passes(tmp_path):
    environments, _ = fleet(tmp_path)
    environment, problems = check_run([run_host("prod-web1", "production", "192.0.2.21", ["192.0.2.0/24"],
                                                "192.0.2.21", str(tmp_path / "production"))], environments)
    assert (environment, problems) == ("production", [])


@pytest.mark.parametrize("hosts, expected", [
    ([run_host("prod-web1", "production", "192.0.2.21"), run_host("stg-web1", "staging", "198.51.100.21")],
     "a run over hosts of 2 environments (production: prod-web1; staging: stg-web1)"),
    ([run_host("stg-web1", "production", "198.51.100.21")],
     "host stg-web1 in a run of production. Why: stg-web1 is a host of staging"),
    ([run_host("prod-web9", "production", "192.0.2.29")],
     "host prod-web9 in a run of production. Why: production's inventory"),
    ([run_host("prod-web1", "production", "192.0.2.99")],
     "host prod-web1 in a run of production at address 192.0.2.99. Why: production's inventory declares "
     "prod-web1 at 192.0.2.21"),
    ([run_host("prod-web1", "production", "192.0.2.21", ["192.0.2.0/24", "198.51.100.0/24"])],
     "host prod-web1 in a run of production with networks 192.0.2.0/24, 198.51.100.0/24"),
    ([run_host("prod-web1", "production", "192.0.2.21", None, "10.9.9.9")],
     "host prod-web1 in a run of production reached at 10.9.9.9. Why: production's inventory reaches "
     "prod-web1 at 192.0.2.21"),
    ([run_host("ghost", "test", "192.0.2.5", ["192.0.2.0/25"])],
     "a run of test whose network 192.0.2.0/25 overlaps production's network 192.0.2.0/24"),
    ([run_host("ghost", "test", "198.51.100.21", ["203.0.113.0/24"])],
     "host ghost in a run of test at address 198.51.100.21. Why: that is the address of staging's host stg-web1"),
    ([run_host("ghost", "test", "203.0.113.5", ["203.0.113.0/24"], "198.51.100.21")],
     "host ghost in a run of test reached at 198.51.100.21. Why: that is how staging's host stg-web1 is reached"),
    ([run_host("ghost", "test", "203.0.113.200", ["203.0.113.0/25"], "ghost")],
     "host ghost in a run of test at address 203.0.113.200. Why: it lies outside test's networks (203.0.113.0/25"),
    ([run_host("ghost", "test", None, ["203.0.113.0/24"])],
     "host ghost in a run of test: it has no usable stackguard_address (got None)"),
    ([run_host("ghost", "test", "203.0.113.5", "203.0.113.0/24")],
     "host ghost in a run of test: its environment's networks are not usable"),
])
def test_a_run_that_could_touch_another_environment_is_refused(tmp_path, hosts, expected):
    environments, _ = fleet(tmp_path)
    _, problems = check_run(hosts, environments)
    assert any(p.startswith(f"Refused: {expected}") for p in problems), problems
    assert all(REFUSAL.match(p) for p in problems), problems


def test_a_run_loading_two_environments_inventories_is_refused(tmp_path):
    environments, _ = fleet(tmp_path)
    hosts = [run_host("prod-web1", "production", "192.0.2.21", inventory_dir=str(tmp_path / "production")),
             run_host("stg-web1", "production", "198.51.100.21", inventory_dir=str(tmp_path / "staging") + "/")]
    _, problems = check_run(hosts, environments)
    assert problems[0].startswith("Refused: a run that loads the inventories of production and staging. Why:")


def test_an_undeclared_environment_may_reuse_host_names_but_nothing_else(tmp_path):
    environments, _ = fleet(tmp_path)
    environment, problems = check_run([run_host("prod-web1", "molecule", "127.0.0.1", ["127.0.0.0/8"]),
                                       run_host("stg-web1", "molecule", "127.0.0.1", ["127.0.0.0/8"])],
                                      environments)
    assert (environment, problems) == ("molecule", [])


def test_the_guard_returns_a_declared_environments_pins_and_policy(tmp_path):
    fleet(tmp_path)
    pinned = {"version": "1.0.0", "sha256": "ab" * 32}
    result = guard([run_host("prod-web1", "production", "192.0.2.21", release=pinned)], str(tmp_path))
    assert result["problems"] == [] and result["pin_differences"] == []
    assert result["declared"] is True and result["environment"] == "production"
    assert result["pins"] == {"release": {"version": "1.0.0", "sha256": "ab" * 32}, "stack": None}
    assert result["pins_source"] == str(tmp_path / "production" / "group_vars" / "all" / "vars.yml")
    assert result["environments"]["staging"] == {"directory": str(tmp_path / "staging"),
                                                 "networks": ["198.51.100.0/24"], "hosts": ["stg-web1"]}
    undeclared = guard([run_host("ghost", "test", "203.0.113.5", ["203.0.113.0/24"])], str(tmp_path))
    assert (undeclared["declared"], undeclared["pins"], undeclared["problems"]) == (False, None, [])


def test_pin_differences_are_per_host_against_the_files_that_pin_them(tmp_path):
    directory = write_inventory(tmp_path, "production", "192.0.2.0/24",
                                {"blue1": "192.0.2.21", "blue2": "192.0.2.22", "green1": "192.0.2.31"},
                                stackguard_stack={"name": "php74-apache24", "revision": 1},
                                stackguard_app_release={"version": "1.0.0", "sha256": "ab" * 32})
    (directory / "host_vars").mkdir()
    (directory / "host_vars" / "green1.yml").write_text("stackguard_stack: {name: php82-apache24, revision: 1}\n")
    environments, _ = declared_environments(tmp_path)
    release = {"version": "1.0.0", "sha256": "ab" * 32}
    php74, php82 = {"name": "php74-apache24", "revision": "1"}, {"name": "php82-apache24", "revision": 1}
    as_pinned = [run_host("blue1", "production", "192.0.2.21", release=release, stack=php74),
                 run_host("green1", "production", "192.0.2.31", release=release, stack=php82)]
    assert pin_differences(as_pinned, environments) == []
    overridden = [run_host(h, "production", a, release=dict(release, version="2.0.0"), stack=php82)
                  for h, a in (("blue1", "192.0.2.21"), ("blue2", "192.0.2.22"), ("green1", "192.0.2.31"))]
    differences = pin_differences(overridden, environments)
    assert [(d["kind"], d["hosts"], d["source"].rsplit("/", 3)[-3:]) for d in differences] == [
        ("release", ["blue1", "blue2", "green1"], ["group_vars", "all", "vars.yml"]),
        ("stack", ["blue1", "blue2"], ["group_vars", "all", "vars.yml"])]
    assert differences[1]["pinned"] == {"name": "php74-apache24", "revision": 1}


def test_a_templated_pin_cannot_be_compared(tmp_path):
    write_inventory(tmp_path, "local", "172.29.80.0/24", {"web1": "172.29.80.21"},
                    stackguard_app_release={"version": "1.0.0", "artifact": "{{ inventory_dir }}/a.tar.gz"})
    environments, _ = declared_environments(tmp_path)
    [difference] = pin_differences([run_host("web1", "local", "172.29.80.21", release={"version": "1.0.0"})],
                                   environments)
    assert (difference["kind"], difference["comparable"]) == ("release", False)
