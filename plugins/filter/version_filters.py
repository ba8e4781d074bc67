"""Jinja filters that compare Debian package versions and check PHP against Composer constraints.

DOCUMENTATION:

  dpkg_version_compare(a, b, op=None)
    Compare two Debian package versions exactly as ``dpkg --compare-versions``
    orders them (epochs, ``~`` pre-releases, ``+b1`` binNMUs, ``~deb11u1`` and
    ``+deb12u3`` security updates). Without ``op`` it returns -1, 0 or 1; with
    ``op`` one of ``lt le eq ge gt`` or ``<< <= = >= >>`` it returns a boolean.
    Examples:
      "{{ '7.4.33-1+deb11u5' | dpkg_version_compare('7.4.33-1+deb11u4') }}"       -> 1
      "{{ php_pkg.version | dpkg_version_compare('7.4.33-1+deb11u5', 'ge') }}"   -> true/false

  version_satisfies(version, constraint)
    Whether a PHP version (``PHP_VERSION``, e.g. ``8.2.7``, ``8.3.0RC1``) meets a
    Composer constraint as written in composer.json's ``require.php``
    (``^7.4 || ^8.0``, ``~8.1.0``, ``>=7.4 <8.0``, ``7.4 - 8.1``, ``8.2.*``).
    Example:
      "{{ php_version | version_satisfies(composer.require.php) }}"               -> true/false

  Invalid versions, constraints or operators fail the task with an
  AnsibleFilterError naming the offending value. Quote versions in YAML:
  an unquoted 7.10 is the float 7.1.

Why this file is thin: the rules live in module_utils so modules and filters
share one implementation; this only adapts them to Jinja and Ansible errors.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import ansible.module_utils
from ansible.errors import AnsibleFilterError

# Ansible ships the configured module_utils directories to modules only; on the
# controller ``ansible.module_utils.<name>`` resolves just to Ansible's own
# package. Point it at this repository's plugins/module_utils as well, so the
# filters import the very files the modules use.
_REPOSITORY_MODULE_UTILS = str(Path(__file__).resolve().parent.parent / "module_utils")
if _REPOSITORY_MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_REPOSITORY_MODULE_UTILS)

from ansible.module_utils.debian_version import check_relation, compare
from ansible.module_utils.php_constraint import satisfies

_DPKG_OPERATOR_SYMBOLS = {
    "lt": "<<", "le": "<=", "eq": "=", "ge": ">=", "gt": ">>",
    "<<": "<<", "<=": "<=", "=": "=", ">=": ">=", ">>": ">>",
}  # fmt: skip


def dpkg_version_compare(a: str, b: str, op: str | None = None) -> int | bool:
    """-1/0/1 for ``a`` against ``b`` in dpkg order, or whether ``a op b`` holds."""
    try:
        if op is None:
            return compare(a, b)
        if op not in _DPKG_OPERATOR_SYMBOLS:
            raise ValueError(f"unknown operator {op!r}: use one of {', '.join(_DPKG_OPERATOR_SYMBOLS)}")
        return check_relation(a, _DPKG_OPERATOR_SYMBOLS[op], b)
    except (TypeError, ValueError) as error:
        raise AnsibleFilterError(f"dpkg_version_compare: {error}") from error


def version_satisfies(version: str, constraint: str) -> bool:
    """Whether PHP ``version`` meets the Composer ``constraint``."""
    try:
        return satisfies(version, constraint)
    except (TypeError, ValueError) as error:
        raise AnsibleFilterError(f"version_satisfies: {error}") from error


class FilterModule:
    """Ansible entry point for the version filters."""

    def filters(self) -> dict[str, Callable[..., int | bool]]:
        return {
            "dpkg_version_compare": dpkg_version_compare,
            "version_satisfies": version_satisfies,
        }
