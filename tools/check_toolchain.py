#!/usr/bin/env python3
"""Refuse a controller whose installed toolchain differs from requirements.txt.

The outage began with a locally upgraded toolchain, so a drifted controller is an error, not a
warning. Run with the virtualenv's interpreter: it inspects the distributions installed there.
With ``--collections requirements.yml`` it also compares the collections Ansible loads.

The comparison is plugins/module_utils/toolchain.py, the same code the preflight role runs before
every playbook.
"""
import argparse
import os
import sys

import ansible.module_utils

# The repository's module_utils, imported under their usual name as the plugins import them.
_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "plugins", "module_utils")
if _MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.toolchain import (  # noqa: E402
    RESTORE, ToolchainError, collection_drift, collection_search_paths, drift, read_collection_pins, read_pins)


def _ansible_collection_paths():
    """Where Ansible, configured as for this run (ANSIBLE_CONFIG, ANSIBLE_COLLECTIONS_PATH), looks."""
    from ansible import constants

    return collection_search_paths(constants.COLLECTIONS_PATHS, constants.COLLECTIONS_SCAN_SYS_PATH)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requirements", nargs="?", default="requirements.txt")
    parser.add_argument("--collections", metavar="REQUIREMENTS_YML",
                        help="also compare the collections Ansible loads with this requirements.yml")
    args = parser.parse_args(argv[1:])
    try:
        pins = read_pins(args.requirements)
        problems = drift(pins)
        collections = {}
        if args.collections:
            collections = read_collection_pins(args.collections)
            problems += collection_drift(collections, _ansible_collection_paths())
    except ToolchainError as exc:
        print(exc, file=sys.stderr)
        return 1
    if problems:
        checked = args.requirements + (f" and {args.collections}" if args.collections else "")
        print(f"toolchain: the controller differs from {checked}:", file=sys.stderr)
        print("\n".join(problems), file=sys.stderr)
        print(f"toolchain: refusing to run. {RESTORE}.", file=sys.stderr)
        return 1
    print(f"toolchain: {len(pins)} pins match {args.requirements}"
          + (f", {len(collections)} collections match {args.collections}" if args.collections else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
