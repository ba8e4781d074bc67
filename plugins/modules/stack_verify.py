#!/usr/bin/python
DOCUMENTATION = r"""
module: stack_verify
short_description: Verify that a host runs exactly its pinned runtime stack
description:
  - Gathers the host's stack (as M(stack_facts) does, same code) and compares it with its slice of
    a stack manifest - exact package versions (or dpkg ranges), holds, runtime versions, PHP
    extensions, Apache MPM and modules, and services active and enabled.
  - Returns each drift item as C({kind, name, expected, actual}), a summary, and a diff in
    C(--diff) mode. Fails with a readable table when anything drifts, unless C(fail_on_drift=false).
  - Read-only; runs the same in check mode.
options:
  manifest:
    description: The stack manifest, as the C(stack_manifest) lookup returns it.
    type: dict
    required: true
  groups:
    description: The host's inventory groups whose slice of the manifest applies (web, db, lb).
    type: list
    elements: str
    required: true
  fail_on_drift:
    description: Fail when the host drifts; with C(false), only report.
    type: bool
    default: true
  package_ranges:
    description:
      - "Accept a dpkg range instead of the manifest's exact version for these packages, e.g.
        C({php7.4-cli: '>= 7.4.33-1+deb11u5, << 7.5'})."
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Verify the host against its pinned stack
  stack_verify:
    manifest: "{{ preflight_stack_manifests | pinned_manifest(stackguard_stack) }}"
    groups: "{{ group_names }}"

- name: Report drift without failing
  stack_verify:
    manifest: "{{ preflight_stack_manifests | pinned_manifest(stackguard_stack) }}"
    groups: "{{ group_names }}"
    fail_on_drift: false
  register: drift
"""

RETURN = r"""
in_sync:
  description: Whether the host runs exactly its slice of the manifest.
  type: bool
  returned: always
drift:
  description: One item per difference.
  type: list
  elements: dict
  returned: always
  sample: [{kind: package, name: php7.4-intl, expected: 7.4.33-1+deb11u12, actual: 7.4.33-1+deb11u99}]
summary:
  description: One line, e.g. C(in sync with php74-apache24@1).
  type: str
  returned: always
stack_facts:
  description: The facts the comparison used.
  type: dict
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.drift_check import check_host, manifest_errors
from ansible.module_utils.stack_check import diff, table
from ansible.module_utils.stack_module import gatherer


def main():
    module = AnsibleModule(
        argument_spec=dict(
            manifest=dict(type="dict", required=True),
            groups=dict(type="list", elements="str", required=True),
            fail_on_drift=dict(type="bool", default=True),
            package_ranges=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    manifest, groups = module.params["manifest"], module.params["groups"]
    errors = manifest_errors(manifest)
    if errors:
        module.fail_json(msg=errors[0])
    try:
        # The same function the on-host drift monitor runs (stackguard-drift-check).
        checked = check_host(gatherer(module), manifest, groups, module.params["package_ranges"])
    except (RuntimeError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    items = checked["drift"]
    result = dict(changed=False, **checked)
    if module._diff and items:
        result["diff"] = diff(items, manifest, "this host")
    if items and module.params["fail_on_drift"]:
        module.fail_json(msg=f"{result['summary']}\n{table(items)}", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
