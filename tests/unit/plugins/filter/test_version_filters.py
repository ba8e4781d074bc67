"""The version filters as Ansible sees them: through FilterModule, failing with AnsibleFilterError."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from plugins.filter.version_filters import FilterModule

FILTERS = FilterModule().filters()
dpkg_version_compare = FILTERS["dpkg_version_compare"]
version_satisfies = FILTERS["version_satisfies"]


def test_filter_names() -> None:
    assert set(FILTERS) == {"dpkg_version_compare", "version_satisfies"}


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("7.4.33-1+deb11u5", "7.4.33-1+deb11u4", 1),
        ("7.4.33-1+deb11u5", "7.4.33-1+deb11u5", 0),
        ("8.2.7-1~deb12u1", "8.2.7-1", -1),
        ("1:10.11.6-0+deb12u1", "10.11.7-1", 1),
    ],
)
def test_dpkg_version_compare_without_operator_returns_ordering(a: str, b: str, expected: int) -> None:
    assert dpkg_version_compare(a, b) == expected


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ("lt", True), ("le", True), ("eq", False), ("ge", False), ("gt", False),
        ("<<", True), ("<=", True), ("=", False), (">=", False), (">>", False),
    ],
)  # fmt: skip
def test_dpkg_version_compare_with_operator_returns_bool(op: str, expected: bool) -> None:
    assert dpkg_version_compare("2.4.57-2", "2.4.62-1~deb12u1", op) is expected


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("1.0", "1.0", "<"), "unknown operator '<'"),
        (("1.0", "1.0", "ne"), "unknown operator 'ne'"),
        (("php-1.0", "1.0"), "invalid Debian version 'php-1.0'"),
        (("1.0", "1.0-", "ge"), "invalid Debian version '1.0-'"),
        ((7.4, "7.4"), "must be a string"),
    ],
)
def test_dpkg_version_compare_errors_are_filter_errors(arguments: tuple, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        dpkg_version_compare(*arguments)


@pytest.mark.parametrize(
    ("version", "constraint", "expected"),
    [
        ("8.2.7", "^7.4 || ^8.0", True),
        ("7.3.33", "^7.4 || ^8.0", False),
        ("7.4.33", ">=7.4,<8.0", True),
        ("8.1.27", "~8.1.0", True),
        ("8.3.0RC1", "8.2.*", False),
    ],
)
def test_version_satisfies(version: str, constraint: str, expected: bool) -> None:
    assert version_satisfies(version, constraint) is expected


@pytest.mark.parametrize(
    ("version", "constraint", "message"),
    [
        ("8.2.7", "^7.4 ||", r"invalid Composer constraint '\^7.4 \|\|'"),
        ("8.2.7", "~>8.2", "use '~'"),
        ("garbage", "^8.2", "invalid PHP version 'garbage'"),
        (8.2, "^8.2", "must be a string"),
    ],
)
def test_version_satisfies_errors_are_filter_errors(version: object, constraint: str, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        version_satisfies(version, constraint)
