DOCUMENTATION = r"""
name: promotion
short_description: Whether releases were deployed to the environment before this one (promotion records)
description:
  - For each release (a mapping with C(version) and the artifact's C(sha256)), looks for
    C(<promotions_dir>/<source>/<sha256>.json), the record a successful deploy to O(source) writes
    (the preflight role's C(promotion_record) tasks), and checks the record is of that environment,
    version and sha256.
  - Returns one verdict per release rather than failing, with a refusal text (what was refused, why,
    what to do instead) when a release was not promoted - no sha256 pinned, no record (listing the
    releases the environment did record), or a record of another release.
  - See C(plugins/module_utils/promotion.py).
options:
  _terms:
    description: The releases, each a mapping with C(version) and C(sha256).
    required: true
  source:
    description: The environment the releases must come from (e.g. staging).
    type: str
    required: true
  target:
    description: The environment the releases are going to, for messages.
    type: str
    required: true
  promotions_dir:
    description: Where the records are kept. Defaults to C(.cache/promotions) in this repository.
    type: path
  pins_source:
    description: The inventory file that pins the releases, for messages.
    type: str
    default: the inventory
"""

EXAMPLES = r"""
- name: Refuse a release staging never ran
  ansible.builtin.assert:
    that: __promotion.promoted
    fail_msg: "{{ __promotion.refusal }}"
  vars:
    __promotion: "{{ lookup('promotion', stackguard_app_release, source='staging', target='production') }}"
"""

RETURN = r"""
_raw:
  description: >-
    One mapping per release - C(promoted) (bool), C(record) (the record found, or null), C(path)
    (where the record is or would be) and C(refusal) (null when promoted).
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

from ansible.module_utils.change_control import plain  # noqa: E402
from ansible.module_utils.promotion import PromotionError, check_promoted  # noqa: E402

_REPO_PROMOTIONS = os.path.join(os.path.dirname(os.path.dirname(_MODULE_UTILS)), ".cache", "promotions")


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        directory = self.get_option("promotions_dir") or _REPO_PROMOTIONS
        try:
            return [check_promoted(directory, self.get_option("source"), self.get_option("target"),
                                   release if isinstance(release, dict) else {}, self.get_option("pins_source"))
                    for release in plain(terms)]
        except PromotionError as exc:
            raise AnsibleLookupError(str(exc)) from None
