"""The controller toolchain against its pins: requirements.txt (Python) and requirements.yml (collections).

The outage began with a locally upgraded toolchain, so a drifted controller is an error, not a
warning. ``drift`` compares the Python distributions installed where this interpreter runs with
``requirements.txt`` (exact ``name==version`` pins, compared as pip does); ``collection_drift``
compares the collections Ansible loads, found in the order Ansible's collection finder searches
(configured collection paths, then ``sys.path``), with ``requirements.yml``.

Shared by tools/check_toolchain.py (``make setup``), the toolchain lookup (the preflight role) and
the unit tests.
"""

from __future__ import annotations

import json
import os
import re
import sys
from importlib import metadata

import yaml

from ansible.module_utils.change_control import refusal
from ansible.module_utils.yaml_data import safe_load

from packaging.version import InvalidVersion, Version

PIN = re.compile(r"^\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)")
COLLECTION = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+$")
# What to do about a drifted controller, in every message that reports one.
RESTORE = ("Restore the pins with `make toolchain-reinstall` "
           "(or change requirements.txt through a reviewed commit)")


class ToolchainError(ValueError):
    """A pin file that cannot be used. The message names the file (and line)."""


def normalize_name(name):
    return name.lower().replace("_", "-")


def same_version(pinned, installed):
    """As pip compares them: 9.2 and 9.2.0 are one version."""
    try:
        return Version(pinned) == Version(installed)
    except InvalidVersion:
        return pinned == installed


def read_pins(path):
    """``{name: version}`` of a requirements.txt whose every line is an exact pin."""
    pins = {}
    try:
        handle = open(path, encoding="utf-8")
    except OSError as exc:
        raise ToolchainError(f"toolchain: cannot read {path}: {exc.strerror}") from None
    with handle:
        for number, line in enumerate(handle, 1):
            stripped = line.split("#", 1)[0].strip()
            if not stripped:
                continue
            match = PIN.match(stripped)
            if not match:
                raise ToolchainError(f"{path}:{number}: '{stripped}' is not an exact pin (name==version)")
            pins[normalize_name(match.group(1))] = match.group(2)
    return pins


def drift(pins, version_of=metadata.version):
    """One line per distribution that differs from its pin (``  name: pinned X, installed Y``)."""
    problems = []
    for name, wanted in sorted(pins.items()):
        try:
            installed = version_of(name)
        except metadata.PackageNotFoundError:
            problems.append(f"  {name}: pinned {wanted}, not installed")
            continue
        if not same_version(wanted, installed):
            problems.append(f"  {name}: pinned {wanted}, installed {installed}")
    return problems


def read_collection_pins(path):
    """``{namespace.name: version}`` of a requirements.yml (``collections: [{name, version}]``)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = safe_load(handle)
    except OSError as exc:
        raise ToolchainError(f"toolchain: cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ToolchainError(f"{path}: not YAML ({exc})") from None
    entries = data.get("collections") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ToolchainError(f"{path}: expected `collections:` with a list of {{name, version}}")
    pins = {}
    for index, entry in enumerate(entries):
        name = entry.get("name") if isinstance(entry, dict) else None
        version = entry.get("version") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not COLLECTION.match(name) or not isinstance(version, str) \
                or not re.match(r"^[0-9][0-9A-Za-z.+-]*$", version):
            raise ToolchainError(f"{path}: collections[{index}]: expected {{name: namespace.name, version: "
                                 f"\"x.y.z\"}} with an exact version, got {entry!r}")
        pins[name] = version
    return pins


def collection_search_paths(configured, scan_sys_path=True, sys_path=None):
    """The directories holding ``ansible_collections/``, in the order Ansible's finder searches them."""
    paths = [os.path.expanduser(str(p)) for p in (configured or [])]
    if scan_sys_path:
        paths.extend(sys.path if sys_path is None else sys_path)
    found = []
    for path in paths:
        if os.path.basename(path) == "ansible_collections":
            path = os.path.dirname(path)
        if path not in found and os.path.isdir(os.path.join(path, "ansible_collections")):
            found.append(path)
    return found


def installed_collection(name, search_paths):
    """``(version, directory)`` of the collection Ansible loads for ``name``, or ``(None, None)``."""
    namespace, collection = name.split(".", 1)
    for path in search_paths:
        directory = os.path.join(path, "ansible_collections", namespace, collection)
        if not os.path.isdir(directory):
            continue
        version = None
        for meta, read in (("MANIFEST.json", lambda d: d["collection_info"]["version"]),
                           ("galaxy.yml", lambda d: d["version"])):
            try:
                with open(os.path.join(directory, meta), encoding="utf-8") as handle:
                    data = json.load(handle) if meta.endswith(".json") else safe_load(handle)
                version = str(read(data))
                break
            except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError):
                continue
        return version or "unknown", directory
    return None, None


def collection_drift(pins, search_paths):
    """One line per collection whose loaded version differs from its pin."""
    problems = []
    for name, wanted in sorted(pins.items()):
        version, directory = installed_collection(name, search_paths)
        if version is None:
            problems.append(f"  {name}: pinned {wanted}, not installed")
        elif not same_version(wanted, version):
            problems.append(f"  {name}: pinned {wanted}, loaded {version} from {directory}")
    return problems


def check(requirements_txt, requirements_yml=None, search_paths=None, version_of=metadata.version):
    """``{problems, pins, collections, refusal}`` for the whole toolchain; a pin file that cannot be
    used is a refusal too."""
    checked = requirements_txt + (f" and {requirements_yml}" if requirements_yml else "")
    try:
        pins = read_pins(requirements_txt)
        problems = drift(pins, version_of)
        collections = {}
        if requirements_yml:
            collections = read_collection_pins(requirements_yml)
            problems.extend(collection_drift(collections, search_paths or []))
    except ToolchainError as exc:
        return {"problems": [str(exc)], "pins": 0, "collections": 0, "refusal": refusal(
            "a run whose controller toolchain cannot be checked", str(exc),
            "fix the pin file through a reviewed commit")}
    result = {"problems": problems, "pins": len(pins), "collections": len(collections), "refusal": None}
    if problems:
        result["refusal"] = refusal(
            "a run from a controller whose toolchain differs from the pins",
            f"the controller must run exactly what {checked} pin (a locally upgraded toolchain is how the "
            "outage began), and here:\n" + "\n".join(problems),
            RESTORE)
    return result
