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

from ansible.errors import AnsibleFilterError


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


class FilterModule:
    def filters(self):
        return {"stack_packages_for": stack_packages_for}
