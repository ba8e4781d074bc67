"""php_constraint must read composer.json's require.php as Composer does.

Expectations come from Composer's documentation (getcomposer.org/doc/articles/versions.md
and the bounds Composer's VersionParser documents for each operator); each
group below cites the rule it exercises.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from plugins.module_utils import php_constraint
from plugins.module_utils.php_constraint import normalize, satisfies

CASES = [
    # Exact version: "8.2.7" matches only that version, after normalization to four parts.
    ("8.2.7", "8.2.7", True),
    ("8.2.7.0", "8.2.7", True),
    ("8.2.8", "8.2.7", False),
    ("8.2.7RC1", "8.2.7", False),
    ("8.2.0", "8.2", True),
    ("8.2.7", "=8.2.7", True),
    ("8.2.7", "==8.2.7", True),
    # "v" prefix: v8.2.7 is the same version as 8.2.7.
    ("8.2.7", "v8.2.7", True),
    ("v8.2.7", "8.2.7", True),
    ("8.2.7", "^v8.2", True),
    # Range operators >, >=, <, <=, !=; "<" and ">=" compare against the -dev of a
    # version without stability, so <8.0 excludes 8.0 pre-releases and >=7.4 admits them.
    ("7.4.0", ">=7.4", True),
    ("7.4.0RC1", ">=7.4", True),
    ("7.3.33", ">=7.4", False),
    ("7.4.0", ">7.4", False),
    ("7.4.0.1", ">7.4", True),
    ("7.4.1", ">7.4", True),
    ("7.99.99", "<8.0", True),
    ("8.0.0RC1", "<8.0", False),
    ("8.0.0-dev", "<8.0", False),
    ("8.0.0", "<=8.0", True),
    ("8.0.0RC1", "<=8.0", True),
    ("8.0.1", "<=8.0", False),
    ("8.0.0", "!=8.0", False),
    ("8.0.1", "!=8.0", True),
    ("8.0.1", "<>8.0", True),
    ("8.0.0RC1", ">=8.0-stable", False),  # an explicit stability is kept as the bound
    ("8.0.0RC2", ">=8.0RC2", True),
    ("8.0.0RC1", ">=8.0RC2", False),
    # "Ranges separated by a space or comma are a logical AND", "|| is a logical OR"
    # (a single | is accepted too), AND binding tighter than OR.
    ("7.4.33", ">=7.4 <8.0", True),
    ("8.0.0", ">=7.4 <8.0", False),
    ("7.4.33", ">=7.4,<8.0", True),
    ("7.4.33", ">=7.4, <8.0", True),
    ("7.4.33", ">= 7.4 , < 8.0", True),
    ("8.0.30", ">=7.4,<8.0", False),
    ("8.2.7", "^7.4 || ^8.0", True),
    ("9.0.0", "^7.4 || ^8.0", False),
    ("8.2.7", "^7.4|^8.0", True),
    ("7.3.0", "^7.4 | ^8.0", False),
    ("8.1.0", ">=7.4 <8.0 || >=8.1", True),
    ("8.0.5", ">=7.4 <8.0 || >=8.1", False),
    # Wildcard: "1.0.* is the equivalent of >=1.0 <1.1"; x and X work as well.
    ("7.4.0", "7.4.*", True),
    ("7.4.33", "7.4.*", True),
    ("7.4.0RC1", "7.4.*", True),
    ("7.5.0", "7.4.*", False),
    ("7.3.99", "7.4.*", False),
    ("7.9.1", "7.*", True),
    ("8.0.0", "7.*", False),
    ("7.4.33", "7.4.x", True),
    ("7.4.33.9", "7.4.33.*", True),
    ("7.4.33", "7.4.*.*", True),
    ("8.2.7", "*", True),
    ("8.3.0-dev", "*", True),
    ("8.2.7", "x", True),
    # Tilde: "~1.2 is equivalent to >=1.2 <2.0.0, while ~1.2.3 is equivalent to >=1.2.3 <1.3.0".
    ("8.1.0", "~8.1.0", True),
    ("8.1.27", "~8.1.0", True),
    ("8.2.0", "~8.1.0", False),
    ("8.2.0RC1", "~8.1.0", False),
    ("8.1.0", "~8.1", True),
    ("8.9.0", "~8.1", True),
    ("9.0.0", "~8.1", False),
    ("8.0.99", "~8.1", False),
    ("8.9.0", "~8", True),
    ("9.0.0", "~8", False),
    ("8.1.3.9", "~8.1.3.1", True),
    ("8.1.4.0", "~8.1.3.1", False),
    # Caret: "^1.2.3 is equivalent to >=1.2.3 <2.0.0"; "for pre-1.0 versions ... ^0.3 as >=0.3.0 <0.4.0".
    ("7.4.0", "^7.4", True),
    ("7.99.0", "^7.4", True),
    ("8.0.0", "^7.4", False),
    ("8.0.0RC1", "^7.4", False),
    ("7.3.9", "^7.4", False),
    ("7.4.2", "^7.4.3", False),
    ("7.9.0", "^7.4.3", True),
    ("0.3.9", "^0.3", True),
    ("0.4.0", "^0.3", False),
    ("0.0.3", "^0.0.3", True),
    ("0.0.4", "^0.0.3", False),
    ("0.9.0", "^0", True),
    ("1.0.0", "^0", False),
    ("0.0.9", "^0.0", True),
    ("0.1.0", "^0.0", False),
    # Caret and tilde lower bounds are the -dev of the version, so pre-releases of it
    # match ("^8.3" internally is >=8.3.0.0-dev <9.0.0.0-dev); minimum-stability,
    # not the constraint, is what keeps them out of an install.
    ("8.3.0RC1", "^8.3", True),
    ("8.3.0-dev", "^8.3", True),
    ("8.3.0alpha1", "~8.3.0", True),
    ("8.3.0RC1", "^8.3.0-RC2", False),  # an explicit pre-release lower bound is exact
    ("8.3.0RC2", "^8.3.0-RC2", True),
    # Hyphenated range: "if the right hand side is a partial version, it is completed
    # with a wildcard": 7.4 - 8.1 is >=7.4.0 <8.2.0; a complete right side is inclusive.
    ("7.4.0", "7.4 - 8.1", True),
    ("7.4.0RC1", "7.4 - 8.1", True),
    ("7.3.33", "7.4 - 8.1", False),
    ("8.1.99", "7.4 - 8.1", True),
    ("8.2.0-dev", "7.4 - 8.1", False),
    ("8.2.0", "7.4 - 8.1", False),
    ("8.9.9", "7.4 - 8", True),
    ("9.0.0", "7.4 - 8", False),
    ("8.1.0", "7.4 - 8.1.0", True),
    ("8.1.0.1", "7.4 - 8.1.0", False),
    ("8.1.1", "7.4 - 8.1.0", False),
    ("8.1.0RC1", "7.4 - 8.1.0", True),
    ("7.2.0", ">=7.0 7.4 - 8.1", False),  # a hyphen range is one AND condition
    ("7.4.1", ">=7.0 7.4 - 8.1", True),
    # Stability ordering dev < alpha < beta < RC < stable (< patch), numbered pre-releases.
    ("8.3.0alpha2", ">8.3.0alpha1", True),
    ("8.3.0beta1", ">8.3.0alpha9", True),
    ("8.3.0RC1", ">8.3.0beta3", True),
    ("8.3.0RC10", ">8.3.0RC9", True),
    ("8.3.0", ">8.3.0RC9", True),
    ("8.3.0-p1", ">8.3.0", True),
    ("8.3.0RC1", ">8.3.0-dev", True),
    ("8.3.0-beta2-dev", "<8.3.0-beta2", True),
    ("8.3.0-beta", "<8.3.0-beta1", True),
    ("8.3.0-rc.1", "8.3.0RC1", True),
    ("8.3.0-b1", "8.3.0-beta1", True),
    # Stability flags (@dev, @beta, ...) and a -stable suffix are accepted; flags do not
    # change the bounds here because they only feed Composer's minimum-stability.
    ("8.2.0RC1", "^8.2@dev", True),
    ("8.2.7", "^8.2@stable", True),
    ("8.1.0", "^8.2@beta", False),
    ("8.2.7", "8.2.*@RC", True),
    ("8.2.7", "@dev", True),
    ("8.2.7", "8.2.7-stable", True),
    # A distribution's PHP_VERSION with a packaging suffix is read like Composer's
    # platform repository does, from the part before the first - or +.
    ("8.1.2-1ubuntu2.14", "^8.1", True),
    ("7.4.33-1+deb11u5", ">=7.4.33 <7.5", True),
    ("8.2.7+build.5", "8.2.7", True),
]

INVALID_CONSTRAINTS = [
    "",
    "   ",
    "^",
    "~",
    ">=",
    "<",
    "7.4.*.*.*",
    "*.*.*.*.*",
    "7.*.3",
    ">=7.4.*",
    "garbage",
    "php7.4",
    "^7.4 ||",
    "|| ^8.0",
    "^7.4 || || ^8.0",
    "^7.4 ||| ^8.0",
    "^7.4 |",
    ">=7.4,",
    ",>=7.4",
    ">=7.4,,<8.0",
    "~>7.4",
    "=>7.4",
    "=<8.0",
    "^ 7.4",
    "7.4 -",
    "- 8.1",
    "7.4 - 8.1 - 9",
    "7.4- 8.1",
    "dev-main",
    "8.x-dev",
    "^7.4@unstable",
    "^7.4.0+",
]


@pytest.mark.parametrize(("version", "constraint", "expected"), CASES)
def test_satisfies(version: str, constraint: str, expected: bool) -> None:
    assert satisfies(version, constraint) is expected


@pytest.mark.parametrize("constraint", INVALID_CONSTRAINTS)
def test_invalid_constraints_are_rejected_by_name(constraint: str) -> None:
    with pytest.raises(ValueError, match="invalid Composer constraint") as raised:
        satisfies("8.2.7", constraint)
    assert repr(constraint) in str(raised.value)


def test_tilde_arrow_gets_a_hint() -> None:
    with pytest.raises(ValueError, match="use '~'"):
        satisfies("8.2.7", "~>8.2")


@pytest.mark.parametrize(
    ("version", "normalized"),
    [
        ("8.2", "8.2.0.0"),
        ("8.2.7", "8.2.7.0"),
        ("v8.2.7", "8.2.7.0"),
        (" 8.2.7 ", "8.2.7.0"),
        ("8.3.0RC1", "8.3.0.0-RC1"),
        ("8.3.0-rc.1", "8.3.0.0-RC1"),
        ("8.3.0-dev", "8.3.0.0-dev"),
        ("8.3.0.dev", "8.3.0.0-dev"),
        ("1.0.0-b2", "1.0.0.0-beta2"),
        ("1.0.0a", "1.0.0.0-alpha"),
        ("1.0.0-beta2-dev", "1.0.0.0-beta2-dev"),
        ("1.0-p1", "1.0.0.0-patch1"),
        ("1.0-pl2", "1.0.0.0-patch2"),
        ("8.2.7-stable", "8.2.7.0"),
        ("8.2.7+build.5", "8.2.7.0"),
        ("8.2.7@beta", "8.2.7.0"),
        ("1.2.3.4", "1.2.3.4"),
    ],
)
def test_normalize(version: str, normalized: str) -> None:
    assert normalize(version) == normalized


@pytest.mark.parametrize("version", ["", "x8.2", "8.2.7.1.2", "8.2.7~rc1", "8.2.7-1ubuntu2", "dev-main", "8.2.*"])
def test_invalid_versions_are_rejected_by_name(version: str) -> None:
    with pytest.raises(ValueError, match="invalid PHP version") as raised:
        normalize(version)
    assert repr(version) in str(raised.value)


@pytest.mark.parametrize("version", ["", "garbage", "8.3.0~rc1", "8.3.0~rc1-1", "php-8.2"])
def test_satisfies_rejects_unreadable_runtime_versions(version: str) -> None:
    with pytest.raises(ValueError, match="invalid PHP version") as raised:
        satisfies(version, "*")
    assert repr(version) in str(raised.value)


@pytest.mark.parametrize(("version", "constraint"), [(8.2, "^8.2"), ("8.2.7", None)])
def test_non_strings_are_a_type_error(version: object, constraint: object) -> None:
    with pytest.raises(TypeError, match="must be a string"):
        satisfies(version, constraint)  # type: ignore[arg-type]


def test_module_imports_only_the_standard_library_absolutely() -> None:
    tree = ast.parse(Path(php_constraint.__file__).read_text())
    imports = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert not any(isinstance(node, ast.ImportFrom) and node.level for node in imports)
    top_level = {
        (alias.name if isinstance(node, ast.Import) else node.module).split(".")[0]
        for node in imports
        for alias in node.names
    }
    assert top_level <= set(sys.stdlib_module_names)
