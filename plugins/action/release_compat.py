DOCUMENTATION = r"""
module: release_compat
short_description: Refuse a release whose PHP, extension or MariaDB requirements a stack does not meet
description:
  - Runs on the controller and changes nothing (the same in check mode). Reads a release tarball
    (C(.tar.gz) built by C(tools/build_release.py), never extracted) or an unpacked release
    directory, its C(composer.json) (C(require.php), C(require.ext-*), and
    C(extra.stackguard.mariadb), a Composer constraint on the MariaDB server version),
    C(release.json) and the names of its C(migrations/NNNN_name.sql).
  - Checks them against a target, either what a host runs (O(facts), the C(stack_facts) module's
    result) or what a stack manifest pins (O(manifest), before a stack change), and fails listing
    every unmet requirement in one message.
  - A release must declare C(require.php). Extensions match C(php -m) names case-insensitively
    (C(ext-zend-opcache) is C(Zend OPcache)); an extension constraint other than C(*) is checked
    against PHP's version for extensions bundled with PHP and otherwise listed in C(ignored).
    C(lib-*) and Composer packages (C(vendor/name)) are listed in C(ignored).
  - Bad input (missing or unreadable tarball, no C(composer.json), invalid JSON or constraints,
    unsafe tarball members, misnamed or duplicate migrations) fails with a message naming it.
  - See C(plugins/module_utils/release_compat.py) for every rule.
version_added: "1.0.0"
options:
  release:
    description:
      - The release tarball or unpacked release directory, on the controller.
      - A relative path is relative to the playbook's directory.
    type: path
    required: true
  facts:
    description:
      - What the host runs, as the C(stack_facts) module returns it (C(php.version),
        C(php.extensions), C(mariadb.version); C(php) or C(mariadb) null when not installed).
      - Exactly one of O(facts) and O(manifest) is required.
    type: dict
  manifest:
    description:
      - A stack manifest (C(runtime.php), C(runtime.mariadb), C(php.extensions)), as the
        C(stack_manifest) lookup returns it. Extensions every PHP build has count as loaded.
    type: dict
  label:
    description: How the target is named in messages. Defaults to the inventory hostname.
    type: str
  release_version:
    description:
      - The release's version for messages when it has no C(release.json); otherwise the file
        name is used (the C(VERSION) of C(<name>-<VERSION>.tar.gz)).
    type: str
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - An action plugin: it runs on the controller only, whatever the connection.
author:
  - stackguard
"""

EXAMPLES = r"""
- name: Refuse a release this host's stack cannot run
  release_compat:
    release: "{{ artifact_path }}"
    facts: "{{ stack_facts }}"
    label: "{{ inventory_hostname }}"

- name: Refuse a new stack that the deployed release does not support
  release_compat:
    release: "{{ deployed_release_path }}"
    manifest: "{{ lookup('stack_manifest', 'php82-apache24', revision=1) }}"
    label: "{{ stackguard_environment }}"
"""

RETURN = r"""
compatible:
  description: Whether the target meets every requirement.
  type: bool
  returned: when the input could be read
release:
  description: What the release requires.
  type: dict
  returned: when the input could be read
  contains:
    version:
      description: From C(release.json), else O(release_version), else the file name.
      type: str
    source:
      description: The release's path.
      type: str
    requires:
      description: >-
        C(php) (constraint), C(extensions) (list of C({requirement, constraint})) and C(mariadb)
        (constraint or null).
      type: dict
    schema_version:
      description: The highest migration number, 0 without migrations.
      type: int
    migrations:
      description: The migration file names, ascending.
      type: list
      elements: str
    ignored:
      description: Requirements not checked, each C({requirement, constraint, reason}).
      type: list
      elements: dict
unmet:
  description: Each unmet requirement as C({requirement, wanted, actual}).
  type: list
  elements: dict
  returned: when the input could be read
target:
  description: The target checked (C(kind) facts or manifest, C(label), C(stack), C(php), C(mariadb)).
  type: dict
  returned: when the input could be read
msg:
  description: The refusal listing every unmet requirement, or a one-line summary.
  type: str
  returned: always
"""

import os

import ansible.module_utils
from ansible.plugins.action import ActionBase

# Controller-side plugins do not see the repo's module_utils path the way modules do; add it so
# the one shared library is imported under its usual name.
_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.release_compat import ReleaseError, run  # noqa: E402

ARGUMENT_SPEC = {
    "release": {"type": "path", "required": True},
    "facts": {"type": "dict"},
    "manifest": {"type": "dict"},
    "label": {"type": "str"},
    "release_version": {"type": "str"},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True  # read-only: check mode runs the same check
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        _, args = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC,
            mutually_exclusive=[("facts", "manifest")],
            required_one_of=[("facts", "manifest")],
        )
        release = args["release"]
        if not os.path.isabs(release):
            release = self._loader.path_dwim(release)
        label = args["label"] or task_vars.get("inventory_hostname")
        try:
            outcome = run(release, facts=args["facts"], manifest=args["manifest"], label=label,
                          release_version=args["release_version"])
        except ReleaseError as error:
            result.update(failed=True, changed=False, msg=str(error))
            return result
        result.update(outcome)
        result["changed"] = False
        if not outcome["compatible"]:
            result["failed"] = True
        return result
