"""The inventory guard: each environment's hosts in its own networks, and one environment per run.

Every directory ``inventories/<env>/`` with a ``hosts.yml`` declares an environment: its name
(``stackguard_environment``), its networks (``stackguard_networks``), its hosts with their
``stackguard_address`` and ``ansible_host``, its pins (``stackguard_app_release``,
``stackguard_stack``) and its change-control policy (``stackguard_change_control``).
``read_inventory`` reads one without Ansible and without decrypting anything: ``hosts.yml``,
``group_vars/`` and ``host_vars/`` (files encrypted with ansible-vault are skipped, ``!vault``
values are read as opaque), and only literal values are used.

``check_declared`` refuses environments whose networks overlap, a host name, address or connection
target declared in two environments, and a host whose address lies outside its environment's
networks. ``check_run`` refuses a run whose hosts are not all of one environment, whose host is
declared in another environment (or sits in another's network), or, for a declared environment,
is not declared there as the run sees it. An environment that is not declared (Molecule, tests) may
reuse host names but not the networks, addresses or connection targets of a declared one.

Every problem is a refusal text (``change_control.refusal``). Addresses and networks are parsed
with netaddr, the library behind the ansible.utils ipaddr filters.
"""

from __future__ import annotations

import os

import netaddr
import yaml

from ansible.module_utils.change_control import normal_pin, refusal
from ansible.module_utils.yaml_data import SafeLoader

HOSTS_FILES = ("hosts.yml", "hosts.yaml")
YAML_SUFFIXES = (".yml", ".yaml", ".json", "")
PINS = (("release", "stackguard_app_release"), ("stack", "stackguard_stack"))
KEYS = ("stackguard_environment", "stackguard_networks", "stackguard_address", "ansible_host",
        "stackguard_app_release", "stackguard_stack", "stackguard_change_control")


class OpaqueValue(str):
    """A value read without being decrypted (``!vault``) or a tag this reader does not interpret."""


class _Loader(SafeLoader):
    pass


def _opaque(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return OpaqueValue(loader.construct_scalar(node))
    return OpaqueValue("")


_Loader.add_multi_constructor("!", _opaque)


def load_yaml(path):
    """A YAML file as data, never decrypting: a vault-encrypted file is None."""
    with open(path, "rb") as handle:
        raw = handle.read()
    if raw.lstrip().startswith(b"$ANSIBLE_VAULT"):
        return None
    return yaml.load(raw, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def _is_template(value):
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _holds_template(value):
    if isinstance(value, dict):
        return any(_holds_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_template(v) for v in value)
    return _is_template(value)


def _vars_files(directory, name):
    """The files of group_vars/<name> or host_vars/<name>, as Ansible finds them, in load order."""
    found = []
    for suffix in YAML_SUFFIXES:
        path = os.path.join(directory, name + suffix)
        if suffix and os.path.isfile(path):
            found.append(path)
    folder = os.path.join(directory, name)
    if os.path.isdir(folder):
        for entry in sorted(os.listdir(folder)):
            path = os.path.join(folder, entry)
            if os.path.isfile(path) and os.path.splitext(entry)[1] in YAML_SUFFIXES and not entry.startswith("."):
                found.append(path)
    return found


def _read_vars(paths, errors):
    """``{key: (value, file)}`` of the keys this guard reads, later files winning."""
    values = {}
    for path in paths:
        try:
            data = load_yaml(path)
        except (OSError, yaml.YAMLError) as exc:
            errors.append(f"{path}: cannot be read as YAML ({exc})")
            continue
        if data is None:
            continue
        if not isinstance(data, dict):
            errors.append(f"{path}: expected a mapping of variables, got {type(data).__name__}")
            continue
        values.update({key: (data[key], path) for key in KEYS if key in data})
    return values


def _walk(group, data, path, hosts, group_vars, errors, seen=()):
    if group in seen:
        return
    if data is None:
        data = {}
    if not isinstance(data, dict):
        errors.append(f"{path}: group {group}: expected a mapping (hosts, vars, children)")
        return
    inline = data.get("vars") or {}
    if isinstance(inline, dict):
        group_vars.setdefault(group, {}).update({k: (inline[k], path) for k in KEYS if k in inline})
    for host, host_data in (data.get("hosts") or {}).items():
        record = hosts.setdefault(str(host), {"groups": {}, "inline": {}})
        # The group and its ancestors, by depth: a child group's variables win over its parent's.
        for depth, name in enumerate(seen + (group,)):
            record["groups"][name] = max(depth, record["groups"].get(name, 0))
        if isinstance(host_data, dict):
            record["inline"].update({k: (host_data[k], path) for k in KEYS if k in host_data})
    for child, child_data in (data.get("children") or {}).items():
        _walk(str(child), child_data, path, hosts, group_vars, errors, seen + (group,))


def read_inventory(directory):
    """One inventory directory as ``{directory, hosts_file, environment, vars, hosts, errors}``.

    ``vars`` maps each key to ``(value, file)`` for group ``all``; ``hosts`` maps a host to
    ``{groups, vars}`` with its effective ``(value, file)`` per key.
    """
    directory = os.path.normpath(directory)
    errors = []
    hosts_file = next((os.path.join(directory, n) for n in HOSTS_FILES
                       if os.path.isfile(os.path.join(directory, n))), None)
    inventory = {"directory": directory, "hosts_file": hosts_file, "vars": {}, "hosts": {}, "errors": errors}
    if hosts_file is None:
        errors.append(f"{directory}: no hosts.yml")
        return inventory
    try:
        data = load_yaml(hosts_file) or {}
    except (OSError, yaml.YAMLError) as exc:
        errors.append(f"{hosts_file}: cannot be read as YAML ({exc})")
        return inventory
    hosts, inline_group_vars = {}, {}
    if not isinstance(data, dict):
        errors.append(f"{hosts_file}: expected a mapping of groups")
        return inventory
    for group, group_data in data.items():
        _walk(str(group), group_data, hosts_file, hosts, inline_group_vars, errors)
    group_dir = os.path.join(directory, "group_vars")
    host_dir = os.path.join(directory, "host_vars")
    all_vars = dict(inline_group_vars.get("all", {}))
    all_vars.update(_read_vars(_vars_files(group_dir, "all"), errors))
    inventory["vars"] = all_vars
    file_group_vars = {}
    for name, record in sorted(hosts.items()):
        effective = dict(all_vars)
        for group in sorted(record["groups"], key=lambda g: (record["groups"][g], g)):
            if group == "all":
                continue
            effective.update(inline_group_vars.get(group, {}))
            if group not in file_group_vars:
                file_group_vars[group] = _read_vars(_vars_files(group_dir, group), errors)
            effective.update(file_group_vars[group])
        effective.update(record["inline"])
        effective.update(_read_vars(_vars_files(host_dir, name), errors))
        inventory["hosts"][name] = {"groups": sorted(set(record["groups"]) - {"all"}), "vars": effective}
    inventory["environment"] = _literal(all_vars.get("stackguard_environment"))
    return inventory


def _literal(entry):
    """The value of a ``(value, file)`` entry, or None when absent."""
    return None if entry is None else entry[0]


def _source(entry, default):
    return default if entry is None else entry[1]


# Addresses and networks -----------------------------------------------------------------------

def parse_address(value):
    """An ``IPAddress`` from a literal text such as ``192.0.2.10``, else None."""
    if not isinstance(value, str) or _is_template(value) or "/" in value:
        return None
    try:
        return netaddr.IPAddress(value.strip())
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None


def parse_networks(value):
    """``(networks, bad)``: the ``IPNetwork``s of a list of CIDR texts, and the entries that are not."""
    if not isinstance(value, list) or not value:
        return [], ["(not a non-empty list)"]
    networks, bad = [], []
    for item in value:
        if not isinstance(item, str) or "/" not in item or _is_template(item):
            bad.append(repr(item))
            continue
        try:
            networks.append(netaddr.IPNetwork(item.strip()).cidr)
        except (netaddr.AddrFormatError, ValueError, TypeError):
            bad.append(repr(item))
    return networks, bad


def overlaps(first, second):
    return first.version == second.version and first.first <= second.last and second.first <= first.last


def _nets(networks):
    return ", ".join(str(n) for n in networks) or "none"


def _containing(address, networks):
    return next((n for n in networks if address in n), None)


# Declared environments ------------------------------------------------------------------------

def declared_environments(inventories_dir):
    """``(environments, problems)``: every ``<inventories_dir>/*/`` with a hosts file, by name.

    An environment is ``{name, directory, hosts_file, networks, networks_source, hosts, pins,
    pins_source, change_control, change_control_source}``; ``hosts`` maps a host to ``{address,
    address_text, ansible_host, environment, source, pins}``, ``pins`` being its own ``{release,
    stack}`` as ``(value, file)``.
    """
    inventories_dir = os.path.normpath(inventories_dir)
    problems, environments = [], {}
    try:
        entries = sorted(os.listdir(inventories_dir))
    except OSError as exc:
        return {}, [refusal(f"a run without the environments' inventories ({inventories_dir})",
                            f"they cannot be read ({exc.strerror}), so no run can be checked against them",
                            "run from a checkout of the repository")]
    for entry in entries:
        directory = os.path.join(inventories_dir, entry)
        if not os.path.isdir(directory) or not any(os.path.isfile(os.path.join(directory, n)) for n in HOSTS_FILES):
            continue
        inventory = read_inventory(directory)
        vars_file = os.path.join(directory, "group_vars", "all", "vars.yml")
        for error in inventory["errors"]:
            problems.append(refusal(f"a run while the inventory {directory} is unreadable", error,
                                    "fix the file through a reviewed commit"))
        name = inventory.get("environment")
        if not isinstance(name, str) or not name.strip() or _is_template(name):
            problems.append(refusal(
                f"a run while the inventory {directory} names no environment",
                "every inventory must say which environment its hosts belong to",
                f"set stackguard_environment in {vars_file}"))
            continue
        if name in environments:
            problems.append(refusal(
                f"a run while two inventories declare environment {name!r} ({environments[name]['directory']} "
                f"and {directory})",
                "an environment's hosts, networks, pins and policy must come from one inventory",
                "give each inventory its own stackguard_environment, or remove one of them"))
            continue
        all_vars = inventory["vars"]
        networks_entry = all_vars.get("stackguard_networks")
        networks, bad = parse_networks(_literal(networks_entry))
        env = {
            "name": name,
            "directory": directory,
            "hosts_file": inventory["hosts_file"],
            "networks": networks,
            "networks_source": _source(networks_entry, vars_file),
            "pins": {"release": _literal(all_vars.get("stackguard_app_release")),
                     "stack": _literal(all_vars.get("stackguard_stack"))},
            "pins_source": _source(all_vars.get("stackguard_app_release")
                                   or all_vars.get("stackguard_stack"), vars_file),
            "change_control": _literal(all_vars.get("stackguard_change_control")),
            "change_control_source": _source(all_vars.get("stackguard_change_control"), None),
            "hosts": {},
        }
        if bad:
            problems.append(refusal(
                f"a run while {name}'s networks are not usable: {', '.join(bad)}",
                f"stackguard_networks ({env['networks_source']}) must list the environment's networks "
                "in CIDR notation, and every host's address is checked against them",
                "write them as a list such as [192.0.2.0/24]"))
        for host, record in inventory["hosts"].items():
            host_vars = record["vars"]
            address_entry = host_vars.get("stackguard_address")
            address = parse_address(_literal(address_entry))
            ansible_host = _literal(host_vars.get("ansible_host"))
            env["hosts"][host] = {
                "address": address,
                "address_text": _literal(address_entry),
                "ansible_host": ansible_host if isinstance(ansible_host, str) and not _is_template(ansible_host) else None,
                "environment": _literal(host_vars.get("stackguard_environment")),
                "source": _source(address_entry, inventory["hosts_file"]),
                "pins": {kind: (_literal(host_vars.get(key)), _source(host_vars.get(key), vars_file))
                         for kind, key in PINS},
            }
        environments[name] = env
    return environments, problems


def check_declared(environments):
    """Refusals for the declared environments as a whole."""
    problems = []
    for env in environments.values():
        name = env["name"]
        for host, record in sorted(env["hosts"].items()):
            if record["environment"] != name:
                problems.append(refusal(
                    f"a run while host {host} of inventory {env['directory']} says it is of environment "
                    f"{record['environment']!r}",
                    f"every host of that inventory belongs to {name}",
                    "move the host to the inventory of its environment, or drop its own stackguard_environment"))
            if record["address"] is None:
                problems.append(refusal(
                    f"a run while {name}'s host {host} has no usable stackguard_address "
                    f"(got {record['address_text']!r})",
                    "each host's address is how it is tied to its environment's networks",
                    f"set stackguard_address to the host's IP address in {record['source']}"))
            elif env["networks"] and _containing(record["address"], env["networks"]) is None:
                problems.append(refusal(
                    f"a run while {name}'s host {host} has address {record['address']} outside {name}'s "
                    f"networks ({_nets(env['networks'])})",
                    "a host outside its environment's networks may be a host of another environment",
                    f"fix stackguard_address in {record['source']}, or declare its network in "
                    f"stackguard_networks ({env['networks_source']})"))
    ordered = sorted(environments.values(), key=lambda e: e["name"])
    for index, first in enumerate(ordered):
        for second in ordered[index + 1:]:
            problems.extend(_pair_problems(first, second))
    return problems


def _pair_problems(first, second):
    problems = []
    for one in first["networks"]:
        for other in second["networks"]:
            if overlaps(one, other):
                problems.append(refusal(
                    f"a run while {first['name']}'s network {one} overlaps {second['name']}'s network {other}",
                    "an address in both could be a host of either environment, so a run against one could "
                    "reach the other",
                    f"give each environment networks of its own ({first['networks_source']}, "
                    f"{second['networks_source']})"))
    for host in sorted(set(first["hosts"]) & set(second["hosts"])):
        problems.append(refusal(
            f"a run while host {host} is declared in both {first['name']} ({first['hosts_file']}) and "
            f"{second['name']} ({second['hosts_file']})",
            "a host belongs to exactly one environment; otherwise a run of one changes the other",
            "keep the host in one inventory and rename or remove it in the other"))
    for kind, key in (("address", "address"), ("connection target (ansible_host)", "ansible_host")):
        first_by = {str(r[key]): h for h, r in first["hosts"].items() if r[key] is not None}
        for host, record in sorted(second["hosts"].items()):
            value = record[key]
            if value is not None and str(value) in first_by:
                problems.append(refusal(
                    f"a run while {second['name']}'s host {host} and {first['name']}'s host "
                    f"{first_by[str(value)]} share the {kind} {value}",
                    "one machine would then belong to two environments",
                    f"give each environment its own machines ({second['hosts_file']}, {first['hosts_file']})"))
    return problems


# The run --------------------------------------------------------------------------------------

def check_run(run_hosts, environments):
    """Refusals for the hosts of this run, each ``{name, environment, address, networks,
    ansible_host, inventory_dir, release, stack}`` as the run sees it. Returns ``(environment,
    problems)``."""
    problems = []
    by_env = {}
    for host in run_hosts:
        by_env.setdefault(host.get("environment") or None, []).append(host["name"])
    if len(by_env) > 1:
        listed = "; ".join(f"{env or '(no environment)'}: {', '.join(sorted(names))}"
                           for env, names in sorted(by_env.items(), key=lambda i: str(i[0])))
        problems.append(refusal(
            f"a run over hosts of {len(by_env)} environments ({listed})",
            "one run changes one environment: a play meant for one would touch the hosts of the other",
            "run each environment with its own inventory (-i inventories/<env>, never two of different "
            "environments), and give each host the stackguard_environment of the inventory it is in"))
    by_directory = {os.path.realpath(e["directory"]): e["name"] for e in environments.values()}
    loaded = sorted({by_directory[os.path.realpath(h["inventory_dir"])] for h in run_hosts
                     if h.get("inventory_dir") and os.path.realpath(h["inventory_dir"]) in by_directory})
    if len(loaded) > 1:
        problems.append(refusal(
            f"a run that loads the inventories of {' and '.join(loaded)}",
            "one run changes one environment, and with two inventories the variables of one apply to the "
            "hosts of the other",
            "run each environment with its own inventory, one -i per run"))
    undeclared_overlaps = set()
    for host in sorted(run_hosts, key=lambda h: h["name"]):
        problems.extend(_host_problems(host, environments, undeclared_overlaps))
    environment = next(iter(by_env)) if len(by_env) == 1 else None
    return environment, problems


def pin_differences(run_hosts, environments):
    """Where a run host of a declared environment has another release or stack than its inventory
    files pin for it: ``[{kind, hosts, run, pinned, source, comparable}]``, hosts grouped."""
    grouped = {}
    for host in sorted(run_hosts, key=lambda h: h["name"]):
        env = environments.get(host.get("environment"))
        declared = env["hosts"].get(host["name"]) if env else None
        if declared is None:
            continue
        for kind, _ in PINS:
            pinned, source = declared["pins"][kind]
            comparable = not _holds_template(pinned)
            run = host.get(kind)
            if comparable and normal_pin(run) == normal_pin(pinned):
                continue
            key = (kind, repr(normal_pin(run)), repr(normal_pin(pinned)), source, comparable)
            grouped.setdefault(key, {"kind": kind, "hosts": [], "run": run, "pinned": _jsonable(pinned),
                                     "source": source, "comparable": comparable})["hosts"].append(host["name"])
    return list(grouped.values())


def _host_problems(host, environments, undeclared_overlaps):
    problems = []
    name, env_name = host["name"], host.get("environment")
    address_text = host.get("address")
    address = parse_address(address_text)
    where = f"the inventory {host['inventory_dir']}" if host.get("inventory_dir") else "the inventory"
    label = f"host {name} in a run of {env_name}"
    declared = None
    if address is None:
        problems.append(refusal(
            f"{label}: it has no usable stackguard_address (got {address_text!r})",
            "a host is tied to its environment by its address inside the environment's networks",
            f"set stackguard_address to the host's IP address ({where})"))
    env = environments.get(env_name)
    if env is not None:
        declared = env["hosts"].get(name)
        if declared is None:
            owner = next((e for e in environments.values() if name in e["hosts"]), None)
            if owner is not None:
                problems.append(refusal(
                    label, f"{name} is a host of {owner['name']} ({owner['hosts_file']}), not of {env_name}",
                    f"run {owner['name']} with its own inventory, -i {owner['directory']}"))
            else:
                problems.append(refusal(
                    label, f"{env_name}'s inventory ({env['hosts_file']}) does not declare it, so nothing ties it "
                    f"to {env_name}", f"declare it in {env['hosts_file']} through a reviewed commit"))
        elif address is not None and declared["address"] is not None and address != declared["address"]:
            problems.append(refusal(
                f"{label} at address {address}",
                f"{env_name}'s inventory declares {name} at {declared['address']} ({declared['source']}), and "
                "something in this run overrides it",
                f"use the inventory as committed: -i {env['directory']}"))
        networks, _ = parse_networks(host.get("networks"))
        if networks and [str(n) for n in networks] != [str(n) for n in env["networks"]]:
            problems.append(refusal(
                f"{label} with networks {_nets(networks)}",
                f"{env_name}'s inventory declares networks {_nets(env['networks'])} ({env['networks_source']}), "
                "and something in this run overrides them",
                f"use the inventory as committed: -i {env['directory']}"))
        own_networks = env["networks"]
        own_source = env["networks_source"]
    else:
        own_networks, bad = parse_networks(host.get("networks"))
        own_source = f"stackguard_networks in {where}"
        if bad:
            problems.append(refusal(
                f"{label}: its environment's networks are not usable ({', '.join(bad)})",
                "every host's address is checked against its environment's networks",
                f"set stackguard_networks to a list in CIDR notation such as [192.0.2.0/24] ({where})"))
        for other in environments.values():
            for mine in own_networks:
                for theirs in other["networks"]:
                    key = (env_name, str(mine), other["name"], str(theirs))
                    if overlaps(mine, theirs) and key not in undeclared_overlaps:
                        undeclared_overlaps.add(key)
                        problems.append(refusal(
                            f"a run of {env_name} whose network {mine} overlaps {other['name']}'s network {theirs}",
                            "an address in both could be a host of either environment, so this run could reach "
                            f"{other['name']} ({other['networks_source']})",
                            f"give {env_name} a network of its own ({own_source})"))
    elsewhere = None
    for other in sorted(environments.values(), key=lambda e: e["name"]):
        if other["name"] == env_name or address is None:
            continue
        same = next((h for h, r in sorted(other["hosts"].items()) if r["address"] == address), None)
        inside = _containing(address, other["networks"])
        if same is not None:
            elsewhere = f"that is the address of {other['name']}'s host {same} ({other['hosts_file']})"
        elif inside is not None:
            elsewhere = f"it lies in {other['name']}'s network {inside} ({other['networks_source']})"
        else:
            continue
        problems.append(refusal(
            f"{label} at address {address}", elsewhere,
            f"run {other['name']}'s hosts only with -i {other['directory']}; fix the address if it is wrong"))
    # A declared host at its declared address outside its networks is check_declared's refusal.
    reported = declared is not None and address == declared["address"]
    if elsewhere is None and not reported and address is not None and own_networks \
            and _containing(address, own_networks) is None:
        problems.append(refusal(
            f"{label} at address {address}",
            f"it lies outside {env_name}'s networks ({_nets(own_networks)}, {own_source}), so it may be a host "
            "of another environment",
            "fix the host's stackguard_address, or declare its network in the environment's stackguard_networks"))
    target = host.get("ansible_host")
    if env is not None and declared is not None and declared["ansible_host"] is not None \
            and target is not None and target != declared["ansible_host"]:
        problems.append(refusal(
            f"{label} reached at {target}",
            f"{env_name}'s inventory reaches {name} at {declared['ansible_host']} ({env['hosts_file']}), and "
            "something in this run overrides it",
            f"use the inventory as committed: -i {env['directory']}"))
    for other in sorted(environments.values(), key=lambda e: e["name"]):
        if other["name"] == env_name or target is None:
            continue
        same_target = next((h for h, r in sorted(other["hosts"].items()) if r["ansible_host"] == target), None)
        if same_target is not None:
            problems.append(refusal(
                f"{label} reached at {target}",
                f"that is how {other['name']}'s host {same_target} is reached ({other['hosts_file']})",
                f"run {other['name']}'s hosts only with -i {other['directory']}; give this host its own ansible_host"))
    return problems


def guard(run_hosts, inventories_dir):
    """The whole check: ``{environment, declared, environments, problems, pin_differences, ...the
    declared environment's pins and policy}`` for one run."""
    environments, problems = declared_environments(inventories_dir)
    problems.extend(check_declared(environments))
    environment, run_problems = check_run(run_hosts, environments)
    problems.extend(run_problems)
    env = environments.get(environment)
    result = {
        "environment": environment,
        "declared": env is not None,
        "inventories_dir": os.path.normpath(inventories_dir),
        "environments": {
            name: {"directory": e["directory"], "networks": [str(n) for n in e["networks"]],
                   "hosts": sorted(e["hosts"])}
            for name, e in sorted(environments.items())},
        "inventory": None, "pins": None, "pins_source": None,
        "change_control": None, "change_control_source": None,
        "pin_differences": pin_differences(run_hosts, environments),
        "problems": problems,
    }
    if env is not None:
        result.update({
            "inventory": env["directory"],
            "pins": _jsonable(env["pins"]),
            "pins_source": env["pins_source"],
            "change_control": _jsonable(env["change_control"]),
            "change_control_source": env["change_control_source"],
        })
    return result


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, OpaqueValue):
        return "(encrypted)"
    return value
