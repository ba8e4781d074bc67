DOCUMENTATION = r"""
name: toolchain
short_description: Compare the controller's toolchain with requirements.txt and requirements.yml
description:
  - Compares the Python distributions installed where C(ansible-playbook) runs with the exact pins of
    O(requirements) (as pip compares versions), and the collections this Ansible loads - found in
    the order its collection finder searches, so a copy in C(~/.ansible/collections) shadowing the
    pinned one counts - with the versions of O(collections).
  - Returns the differences rather than failing, with a refusal text (what was refused, why, what
    to do instead) when there are any, so the caller asserts on it.
  - The same code as C(tools/check_toolchain.py), which C(make setup) runs; see
    C(plugins/module_utils/toolchain.py).
options:
  requirements:
    description: The requirements.txt with the toolchain's exact pins. Defaults to this repository's.
    type: path
  collections:
    description: The requirements.yml with the collections' versions. Defaults to this repository's.
    type: path
"""

EXAMPLES = r"""
- name: Refuse a controller that differs from the pins
  ansible.builtin.assert:
    that: __toolchain.refusal is none
    fail_msg: "{{ __toolchain.refusal }}"
  vars:
    __toolchain: "{{ lookup('toolchain') }}"
"""

RETURN = r"""
_raw:
  description: >-
    One mapping - C(problems) (one line per distribution or collection that differs: pinned and
    installed versions, and where a collection was loaded from), C(pins) and C(collections) (how many
    were compared) and C(refusal) (null when everything matches).
  type: list
  elements: dict
"""

import os

import ansible.module_utils
from ansible.plugins.lookup import LookupBase
from ansible.utils.collection_loader import AnsibleCollectionConfig

# Controller-side plugins do not see the repo's module_utils path the way modules do; add it so
# the one shared library is imported under its usual name.
_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.toolchain import check, collection_search_paths  # noqa: E402

_REPO = os.path.dirname(os.path.dirname(_MODULE_UTILS))


def _search_paths():
    """The collection finder's own paths when it is installed (in every Ansible run), else the config's."""
    if AnsibleCollectionConfig.collection_finder is not None:
        return collection_search_paths(AnsibleCollectionConfig.collection_paths, scan_sys_path=False)
    from ansible import constants

    return collection_search_paths(constants.COLLECTIONS_PATHS, constants.COLLECTIONS_SCAN_SYS_PATH)


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        requirements = self.get_option("requirements") or os.path.join(_REPO, "requirements.txt")
        collections = self.get_option("collections") or os.path.join(_REPO, "requirements.yml")
        return [check(requirements, collections, _search_paths())]
