"""Filters over a release's SQL migrations: which statements break the expand-only policy."""

DOCUMENTATION = r"""
name: migration_violations
short_description: The statements of SQL migrations that the previous release could not run on
description:
  - Checks each migration (C({version, name, sql}) from the release_migrations lookup) against the
    expand-only policy, so that the release being replaced keeps working on the new schema and a
    rollback never needs the database restored.
  - Allowed are CREATE TABLE, CREATE INDEX, CREATE VIEW, ALTER TABLE ADD of a NULLable or defaulted
    column, of an index, unique key or foreign key, INSERT of seed rows, session SET, and comments.
  - Refused are drops, renames, CHANGE, MODIFY, DROP DEFAULT, TRUNCATE, DELETE, UPDATE, a NOT NULL
    column without a DEFAULT, engine and character set conversions, and any statement it does not
    recognise.
  - "A migration whose first line is C(-- stackguard: contract) may drop, rename and rewrite, but only
    when O(contract_allowed) is true, that is once the previous release is no longer a rollback target."
  - Returns a list of C({version, name, statement, reason}); empty when every statement only expands.
positional: contract_allowed
options:
  _input:
    description: Migrations, as the release_migrations lookup returns them.
    type: list
    elements: dict
    required: true
  contract_allowed:
    description:
      - "Whether migrations marked C(-- stackguard: contract) may run their destructive statements."
      - Must be a boolean; pass a string through the C(bool) filter first.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Refuse migrations the previous release could not run on
  ansible.builtin.assert:
    that: query('release_migrations', release_dir) | migration_violations | length == 0

- name: Allow the contract step once the previous release is no longer a rollback target
  ansible.builtin.debug:
    msg: "{{ migrations | migration_violations(app_deploy_allow_contract | bool) }}"
"""

RETURN = r"""
_value:
  description: One item per refused statement, in file order.
  type: list
  elements: dict
  contains:
    version:
      description: The migration's number.
      type: int
    name:
      description: The migration's file name.
      type: str
    statement:
      description: The statement without comments, whitespace folded, at most 120 characters.
      type: str
    reason:
      description: What the statement does, why the previous release may break, and what to do instead.
      type: str
"""

import os

import ansible.module_utils
from ansible.errors import AnsibleFilterError

# Controller-side plugins do not see the repo's module_utils path the way modules do; add it so
# the one shared library is imported under its usual name.
_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.migration_policy import violations  # noqa: E402


def migration_violations(migrations, contract_allowed=False):
    """The statements of ``migrations`` that break the expand-only policy (see migration_policy)."""
    try:
        return violations(migrations, contract_allowed)
    except (ValueError, TypeError) as exc:
        raise AnsibleFilterError(f"migration_violations: {exc}") from None


class FilterModule:
    def filters(self):
        return {"migration_violations": migration_violations}
