"""Compare what a host runs (stack_facts) with the stack manifest it is pinned to.

The one comparison behind the stack_verify module, the stack_diff filter and the on-host drift
monitor. A drift item is {kind, name, expected, actual}; kinds: package, hold, runtime,
extension, apache_module, service.
"""
from ansible.module_utils.debian_version import satisfies

RUNTIMES = {"web": ("php", "apache"), "db": ("mariadb",), "lb": ("haproxy",)}


def drift_item(kind, name, expected, actual):
    return {"kind": kind, "name": name, "expected": expected, "actual": actual}


def pinned_packages(manifest, groups):
    pinned = {}
    for group in groups:
        pinned.update((manifest.get("packages") or {}).get(group, {}))
    return pinned


def pinned_services(manifest, groups):
    return sorted({s for g in groups for s in (manifest.get("services") or {}).get(g, [])})


def runtimes_for(manifest, groups):
    return sorted({r for g in groups if g in (manifest.get("packages") or {})
                   for r in RUNTIMES.get(g, ())})


def apache_module_id(name):
    """a2enmod name -> the id `apache2ctl -M` prints (php7.4 -> php7_module, php8.2 -> php_module)."""
    if name.startswith("php") and name[3:4].isdigit():
        return "php7_module" if name[3] == "7" else "php_module"
    return f"{name}_module"


def version_matches(actual, expected):
    """Exact Debian version, or a dpkg range such as '>= 7.4.33-1+deb11u5, << 7.5'.

    A Debian version never starts with <, > or =, so such a value is a range; satisfies() rejects
    a malformed one (including dpkg's deprecated bare < and >) with a clear error.
    """
    if expected.lstrip()[:1] in ("<", ">", "="):
        return satisfies(actual, expected)
    return actual == expected


def _runtime_matches(actual, expected):
    # Runtimes report upstream versions (7.4.33, 10.5.29); a manifest may pin "7.4.33" exactly.
    return actual == expected or actual.startswith(expected + "-")


def compare(facts, manifest, groups, package_ranges=None):
    """Every way the host differs from its slice of the manifest, in a stable order."""
    items = []
    packages = pinned_packages(manifest, groups)
    packages.update({k: v for k, v in (package_ranges or {}).items() if k in packages})
    installed = facts.get("packages") or {}
    for name, expected in sorted(packages.items()):
        actual = installed.get(name)
        if actual is None:
            items.append(drift_item("package", name, expected, "not installed"))
        elif not version_matches(actual, expected):
            items.append(drift_item("package", name, expected, actual))
    held = set(facts.get("holds") or [])
    for name in sorted(packages):
        if name not in held and installed.get(name) is not None:
            items.append(drift_item("hold", name, "held", "not held"))

    runtime = manifest.get("runtime") or {}
    for name in runtimes_for(manifest, groups):
        seen = facts.get(name)
        actual = (seen or {}).get("version") or "not installed"
        if not _runtime_matches(actual, str(runtime.get(name))):
            items.append(drift_item("runtime", name, str(runtime.get(name)), actual))

    if "php" in runtimes_for(manifest, groups):
        loaded = {e.lower() for e in ((facts.get("php") or {}).get("extensions") or [])}
        for extension in (manifest.get("php") or {}).get("extensions", []):
            if extension.lower() not in loaded:
                items.append(drift_item("extension", extension, "loaded", "not loaded"))
    if "apache" in runtimes_for(manifest, groups):
        apache = manifest.get("apache") or {}
        loaded = set((facts.get("apache") or {}).get("modules") or [])
        wanted = [f"mpm_{apache.get('mpm')}"] + list(apache.get("modules", []))
        for module in wanted:
            if apache_module_id(module) not in loaded:
                items.append(drift_item("apache_module", module, "loaded", "not loaded"))

    states = facts.get("services") or {}
    for service in pinned_services(manifest, groups):
        state = states.get(service) or {}
        actual = f"{state.get('active', 'unknown')}/{state.get('enabled', 'unknown')}"
        if actual != "active/enabled":
            items.append(drift_item("service", service, "active/enabled", actual))
    return items


def summary(items, manifest):
    label = f"{manifest.get('name')}@{manifest.get('revision')}"
    if not items:
        return f"in sync with {label}"
    names = ", ".join(f"{i['kind']} {i['name']}" for i in items)
    return f"{len(items)} drift item{'s' if len(items) != 1 else ''} from {label}: {names}"


def table(items):
    """A fixed-width table an operator reads in a failed task's message."""
    rows = [("KIND", "NAME", "EXPECTED", "ACTUAL")] + [
        (i["kind"], i["name"], str(i["expected"]), str(i["actual"])) for i in items]
    widths = [max(len(row[c]) for row in rows) for c in range(4)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
                     for row in rows)


def diff(items, manifest, host):
    """before/after texts for Ansible's --diff: the expected and actual value of each item."""
    before = "".join(f"{i['kind']} {i['name']}: {i['expected']}\n" for i in items)
    after = "".join(f"{i['kind']} {i['name']}: {i['actual']}\n" for i in items)
    return {"before": before, "after": after,
            "before_header": f"{manifest.get('name')}@{manifest.get('revision')}",
            "after_header": host}
