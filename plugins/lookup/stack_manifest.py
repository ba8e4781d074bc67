DOCUMENTATION = r"""
name: stack_manifest
short_description: Load a runtime stack manifest at a revision, validated and digest-checked
description:
  - Reads C(stacks/<name>.yml), validates its schema (unknown keys, wrong types and missing fields
    are errors naming the field), checks that it is the requested revision, and checks its sha256
    against C(stacks/stacks.lock).
  - A released revision edited in place (same revision, other digest) is refused; a change needs a
    new revision recorded with C(make stack-lock).
options:
  _terms:
    description: Stack names.
    required: true
  revision:
    description: The revision the inventory pins.
    type: int
    required: true
  stacks_dir:
    description: Directory of the manifests. Defaults to this repository's C(stacks/).
    type: path
"""

EXAMPLES = r"""
- name: Load the pinned stack
  ansible.builtin.set_fact:
    stack: "{{ lookup('stack_manifest', 'php74-apache24', revision=1) }}"
"""

RETURN = r"""
_raw:
  description: The manifest as a mapping, with C(digest) (sha256:...) and C(source) (its path) added.
  type: list
  elements: dict
"""

import os

import ansible.module_utils
from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

# Controller-side plugins do not see the repo's module_utils path the way modules do; add it so
# the one shared library is imported under its usual name.
_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.stack_manifest import ManifestError, load  # noqa: E402

_REPO_STACKS = os.path.join(os.path.dirname(os.path.dirname(_MODULE_UTILS)), "stacks")


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        stacks_dir = self.get_option("stacks_dir") or _REPO_STACKS
        try:
            return [load(stacks_dir, name, self.get_option("revision")) for name in terms]
        except ManifestError as exc:
            raise AnsibleLookupError(str(exc)) from None
