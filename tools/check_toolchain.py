#!/usr/bin/env python3
"""Refuse a controller whose installed toolchain differs from requirements.txt.

The outage began with a locally upgraded toolchain, so a drifted controller is an error, not a
warning. Run with the virtualenv's interpreter: it inspects the distributions installed there.
"""
import re
import sys
from importlib import metadata

from packaging.version import InvalidVersion, Version

PIN = re.compile(r"^\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)")


def same_version(pinned, installed):
    """As pip compares them: 9.2 and 9.2.0 are one version."""
    try:
        return Version(pinned) == Version(installed)
    except InvalidVersion:
        return pinned == installed


def read_pins(path):
    pins = {}
    try:
        handle = open(path, encoding="utf-8")
    except OSError as exc:
        raise SystemExit(f"toolchain: cannot read {path}: {exc.strerror}") from None
    with handle:
        for number, line in enumerate(handle, 1):
            stripped = line.split("#", 1)[0].strip()
            if not stripped:
                continue
            match = PIN.match(stripped)
            if not match:
                raise SystemExit(f"{path}:{number}: '{stripped}' is not an exact pin (name==version)")
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def drift(pins):
    problems = []
    for name, wanted in sorted(pins.items()):
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            problems.append(f"  {name}: pinned {wanted}, not installed")
            continue
        if not same_version(wanted, installed):
            problems.append(f"  {name}: pinned {wanted}, installed {installed}")
    return problems


def main(argv):
    path = argv[1] if len(argv) > 1 else "requirements.txt"
    pins = read_pins(path)
    problems = drift(pins)
    if problems:
        print(f"toolchain: the controller differs from {path}:", file=sys.stderr)
        print("\n".join(problems), file=sys.stderr)
        print("toolchain: refusing to run. Restore the pins with `make toolchain-reinstall` "
              "(or change requirements.txt through a reviewed commit).", file=sys.stderr)
        return 1
    print(f"toolchain: {len(pins)} pins match {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
