"""Filters over stack manifests: a host's manifest, its pinned packages, its drift from stack facts."""

DOCUMENTATION = r"""
name: stack_packages_for
short_description: The pinned packages of a stack manifest for a host's inventory groups
description:
  - Merges C(packages.<group>) of a manifest for every group the host is in (web, db, lb).
  - A package pinned at two different versions in two of the host's groups is an error.
positional: groups
options:
  _input:
    description: A manifest from the stack_manifest lookup.
    type: dict
    required: true
  groups:
    description: The host's groups, usually C(group_names).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Show what this host pins
  ansible.builtin.debug:
    msg: "{{ stackguard_stack_manifest | stack_packages_for(group_names) }}"
"""

RETURN = r"""
_value:
  description: Package name to exact version.
  type: dict
"""

import os

import ansible.module_utils
from ansible.errors import AnsibleFilterError

# Controller-side plugins do not see the repo's module_utils path the way modules do; add it so
# the one shared library is imported under its usual name.
_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.stack_check import compare  # noqa: E402

STACK_DIFF_DOCUMENTATION = r"""
name: stack_diff
short_description: The drift items between a host's stack facts and its stack manifest
description:
  - The same comparison as the stack_verify module, on facts already gathered
    (C(stack_facts) module, or C(stack_verify)'s returned C(stack_facts)).
  - Returns a list of C({kind, name, expected, actual}); empty when in sync.
positional: manifest, groups
"""

PINNED_MANIFEST_DOCUMENTATION = r"""
name: pinned_manifest
short_description: A host's pinned stack manifest, out of the ones the preflight role loaded
description:
  - C(preflight_stack_manifests) (set by the preflight role for every host of the run) holds each
    pinned manifest once, keyed C(<name>@<revision>); this picks the one a host's pin names.
  - Worked out when a role reads it, rather than copied to every host by a task: a run pays no
    round of the strategy for it.
positional: pin
options:
  _input:
    description: C(preflight_stack_manifests).
    type: dict
    required: true
  pin:
    description: The host's stack pin, C(stackguard_stack) (C({name, revision})).
    type: dict
    required: true
"""


def pinned_manifest(manifests, pin):
    """manifests["<name>@<revision>"] for the pin; AnsibleFilterError naming what is missing."""
    if not isinstance(pin, dict) or "name" not in pin or "revision" not in pin:
        raise AnsibleFilterError(f"pinned_manifest: the stack pin must be {{name, revision}}, got {pin!r}")
    key = f"{pin['name']}@{pin['revision']}"
    if not isinstance(manifests, dict) or key not in manifests:
        loaded = ", ".join(sorted(manifests)) if isinstance(manifests, dict) else ""
        raise AnsibleFilterError(
            f"pinned_manifest: no manifest for stack {key} among those the preflight role loaded "
            f"({loaded or 'none'}); run the preflight role first, over the same hosts")
    return manifests[key]


def stack_packages_for(manifest, groups):
    pinned = {}
    for group in groups:
        for package, version in (manifest.get("packages") or {}).get(group, {}).items():
            if pinned.get(package, version) != version:
                raise AnsibleFilterError(
                    f"{manifest.get('source', 'manifest')}: package {package} is pinned at "
                    f"{pinned[package]} and {version} in two groups of the same host ({groups})")
            pinned[package] = version
    return pinned


def stack_diff(facts, manifest, groups):
    """Drift items of facts against manifest for the given groups (see stack_check.compare)."""
    try:
        return compare(facts, manifest, groups)
    except (ValueError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError(f"stack_diff: {exc}") from None


class FilterModule:
    def filters(self):
        return {"pinned_manifest": pinned_manifest, "stack_packages_for": stack_packages_for,
                "stack_diff": stack_diff}
