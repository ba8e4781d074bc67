"""Check a PHP runtime version against a Composer ``require.php`` constraint.

Why this exists: an application's composer.json states which PHP it runs on
(``"php": "^7.4 || ^8.0"``), and the stack must refuse to deploy it on a PHP
that Composer itself would refuse. So the constraint is read with Composer's
semantics (getcomposer.org/doc/articles/versions.md), not with semver's or
dpkg's. Standard library only: the file is imported as
``ansible.module_utils.php_constraint`` inside modules and as a plain module
elsewhere.

Versions. ``normalize`` maps a version to Composer's four-part form:
``8.2`` -> ``8.2.0.0``, ``v8.3.0RC1`` -> ``8.3.0.0-RC1``, ``8.3.0-dev`` ->
``8.3.0.0-dev``, ``1.0.0-b2`` -> ``1.0.0.0-beta2``, ``1.0-p1`` ->
``1.0.0.0-patch1``; ``-stable``, ``@flag`` suffixes and ``+build`` metadata are
dropped. Versions order by the four numbers, then by stability
dev < alpha < beta < RC < stable < patch, then by the pre-release numbers
(``RC1 < RC2``, ``beta < beta1``), and a trailing ``-dev`` makes a pre-release
sort just before itself (``beta2-dev < beta2``), as PHP's ``version_compare``
orders Composer's normalized strings. ``satisfies`` also accepts a distribution
build of PHP whose ``PHP_VERSION`` carries a packaging suffix
(``8.1.2-1ubuntu2.14``, ``7.4.33-1+deb11u5``): like Composer's platform
repository it retries with the part before the first ``-`` or ``+``. Unlike
Composer it does not cut at ``~``, because in a Debian version ``8.3.0~rc1``
is a release candidate, not 8.3.0.

Constraints. ``||`` or ``|`` separates alternatives (OR); inside one,
comma or whitespace separates conditions (AND). Each condition is:

=================  ===========================================================
``8.2.7``, ``=``   equal after normalization (``==`` too); ``!=``/``<>`` not
``<``, ``>=``      strict/inclusive against the ``-dev`` of the version unless
                   it states a stability: ``<8.0`` excludes ``8.0.0RC1`` and
                   ``>=7.4`` admits ``7.4.0RC1``
``<=``, ``>``      against the version itself: ``<=8.0`` admits ``8.0.0RC1``
``*``              anything (``x`` and ``*.*`` likewise)
``7.4.*``          >=7.4.0.0-dev <7.5.0.0-dev (``x``/``X`` also wildcards)
``~1.2``           >=1.2.0.0-dev <2.0.0.0-dev: the last given part may grow;
``~1.2.3``         >=1.2.3.0-dev <1.3.0.0-dev;  ``~1`` is like ``~1.0``
``^1.2.3``         >=1.2.3.0-dev <2.0.0.0-dev: the first non-zero part is kept,
``^0.3``           >=0.3.0.0-dev <0.4.0.0-dev;  ``^0.0.3`` <0.0.4.0-dev,
                   ``^0`` <1.0.0.0-dev
``7.4 - 8.1``      >=7.4.0.0-dev and, as the upper side is partial, a wildcard
                   on it: <8.2.0.0-dev; a complete upper side is inclusive:
                   ``7.4 - 8.1.0`` is <=8.1.0.0
=================  ===========================================================

Pre-releases match whenever they fall inside the bounds. Caret, tilde, hyphen
and ``>=`` lower bounds are the ``-dev`` of the version written, so ``^8.3``
admits ``8.3.0RC1`` and ``8.3.0-dev``; a bound that states a stability
(``^8.3.0-beta1``, ``>=8.0-stable``) is taken as written instead. Keeping
pre-releases out of an install is Composer's ``minimum-stability`` policy, not
part of a constraint, so the ``@dev``/``@beta``/... flags that feed that policy
are accepted and ignored. Wildcards are limited
to four parts like versions (``7.4.*.*`` is fine, ``7.4.*.*.*`` is an error),
``~>`` is an error as in Composer, and branch (``dev-main``, ``1.x-dev``) and
date versions are rejected: a PHP runtime is never one of those.
``ValueError`` messages name the constraint or version at fault.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable
from typing import NamedTuple

# Aliases as strings: the hosts run this module too, and Debian 11's Python 3.9 cannot evaluate
# `int | tuple` at import time.
SortKey = "tuple[int | tuple[int, ...], ...]"  # four numbers, stability rank, pre-release numbers, not-dev
Condition = "tuple[Callable[[SortKey, SortKey], bool], SortKey]"

_STABILITY_RANK = {"dev": 0, "alpha": 1, "beta": 2, "RC": 3, "stable": 4, "patch": 5}
_STABILITY_NAMES = {
    "a": "alpha", "alpha": "alpha", "b": "beta", "beta": "beta", "rc": "RC",
    "stable": "stable", "p": "patch", "pl": "patch", "patch": "patch",
}  # fmt: skip
_PARTS = 4

_VERSION = re.compile(
    r"""
    v?(?P<numbers>\d{1,5}(?:\.\d+){0,3})
    (?:[._-]?(?P<stability>stable|beta|b|RC|alpha|a|patch|pl|p)(?P<pre>(?:[.-]?\d+)*))?
    (?P<dev>[._-]?dev)?
    """,
    re.IGNORECASE | re.VERBOSE,
)
_STABILITY_FLAG = re.compile(r"(?P<body>[^,\s]*?)@(?:stable|RC|beta|alpha|dev)", re.IGNORECASE)
_MATCH_ALL = re.compile(r"v?[xX*](?:\.[xX*]){0,3}")
_WILDCARD = re.compile(r"v?(?P<numbers>\d+(?:\.\d+){0,2})(?P<wildcards>(?:\.[xX*]){1,3})")
_OPERATOR = re.compile(r"<>|!=|>=?|<=?|==?")
_OR_SEPARATOR = re.compile(r"\s*\|\|?\s*")
_AND_CONDITION = re.compile(
    r"(?P<condition>(?P<low>[^\s,]+)\s+-\s+(?P<high>[^\s,]+)|(?:<>|!=|>=?|<=?|==?)\s*[^\s,]+|[^\s,]+)"
    r"(?P<separator>\s*,\s*|\s+|\Z)"
)

_OPERATORS: dict[str, Callable[[SortKey, SortKey], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "=": operator.eq, "==": operator.eq, "!=": operator.ne, "<>": operator.ne,
}  # fmt: skip


class _Version(NamedTuple):
    numbers: tuple[str, ...]  # as written, one to four parts
    stability: str
    pre_release: str  # digits and separators after the stability, e.g. "1" or "1.2"
    dev: bool
    stability_written: bool  # "-stable", "RC1", "-dev"...: Composer then takes a bound as is

    def padded(self) -> list[int]:
        return [int(number) for number in self.numbers] + [0] * (_PARTS - len(self.numbers))

    def key(self) -> SortKey:
        return (
            *self.padded(),
            _STABILITY_RANK[self.stability],
            tuple(int(number) for number in re.findall(r"\d+", self.pre_release)),
            0 if self.dev else 1,
        )

    def dev_key(self) -> SortKey:
        """The lowest version with these numbers, Composer's implicit ``-dev`` bound."""
        return _dev_key(self.padded())


def _dev_key(numbers: list[int]) -> SortKey:
    return (*numbers, _STABILITY_RANK["dev"], (), 0)


def _lower_bound(version: _Version) -> Condition:
    """``>=`` the version's ``-dev``, or the version itself when it states a stability."""
    return operator.ge, version.key() if version.stability_written else version.dev_key()


def _bumped(numbers: list[int], position: int) -> list[int]:
    """Increment the ``position``-th part (1-based) and zero the parts after it."""
    return numbers[: position - 1] + [numbers[position - 1] + 1] + [0] * (_PARTS - position)


def _parse_version(text: str) -> _Version:
    """Parse one Composer version, or raise ValueError with the reason."""
    flagged = _STABILITY_FLAG.fullmatch(text)
    if flagged:
        text = flagged["body"]
    text, plus, build = text.partition("+")
    if plus and (not build or any(character.isspace() for character in build)):
        raise ValueError("build metadata after '+' is empty or has whitespace")
    match = _VERSION.fullmatch(text)
    if not match:
        raise ValueError("not a version like 8.2, 8.2.7, 8.3.0RC1 or 8.3.0-dev")
    numbers = tuple(match["numbers"].split("."))
    dev = bool(match["dev"])
    if match["stability"] is None:
        return _Version(numbers, "dev" if dev else "stable", "", dev, dev)
    stability = _STABILITY_NAMES[match["stability"].lower()]
    if stability == "stable":  # Composer drops whatever follows "stable"
        return _Version(numbers, "stable", "", False, True)
    return _Version(numbers, stability, match["pre"].lstrip(".-"), dev, True)


def _require_text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, not {type(value).__name__}: {value!r}")
    return value


def normalize(version: str) -> str:
    """Composer's normalized form of a version, e.g. ``8.3.0RC1`` -> ``8.3.0.0-RC1``."""
    _require_text(version, "PHP version")
    try:
        parsed = _parse_version(version.strip())
    except ValueError as error:
        raise ValueError(f"invalid PHP version {version!r}: {error}") from None
    normalized = ".".join(parsed.numbers + ("0",) * (_PARTS - len(parsed.numbers)))
    if parsed.stability not in ("stable", "dev"):
        normalized += f"-{parsed.stability}{parsed.pre_release}"
    return normalized + ("-dev" if parsed.dev else "")


def _runtime_key(version: str) -> SortKey:
    """Sort key of an installed PHP's version, tolerating a distribution's packaging suffix."""
    text = _require_text(version, "PHP version").strip()
    try:
        return _parse_version(text).key()
    except ValueError as error:
        release = re.split(r"[-+]", text, maxsplit=1)[0]
        if release != text:
            try:
                return _parse_version(release).key()
            except ValueError:
                pass
        raise ValueError(f"invalid PHP version {version!r}: {error}") from None


def _condition(text: str) -> list[Condition]:
    """Translate one AND-condition (no hyphen range) into bounds."""
    flagged = _STABILITY_FLAG.fullmatch(text)
    if flagged:
        text = flagged["body"] or "*"
    if _MATCH_ALL.fullmatch(text):
        return []
    if text.startswith("~>"):
        raise ValueError("'~>' is not a Composer operator, use '~'")
    if text.startswith("~"):
        version = _parse_version(text[1:])
        upper_position = max(1, len(version.numbers) - 1)
        return [_lower_bound(version), (operator.lt, _dev_key(_bumped(version.padded(), upper_position)))]
    if text.startswith("^"):
        version = _parse_version(text[1:])
        numbers = version.padded()
        given = len(version.numbers)
        if numbers[0] != 0 or given == 1:
            upper_position = 1
        elif numbers[1] != 0 or given == 2:
            upper_position = 2
        else:
            upper_position = 3
        return [_lower_bound(version), (operator.lt, _dev_key(_bumped(numbers, upper_position)))]
    wildcard = _WILDCARD.fullmatch(text)
    if wildcard:
        numbers = [int(number) for number in wildcard["numbers"].split(".")]
        if len(numbers) + wildcard["wildcards"].count(".") > _PARTS:
            raise ValueError(f"a version has at most {_PARTS} parts")
        padded = numbers + [0] * (_PARTS - len(numbers))
        return [(operator.ge, _dev_key(padded)), (operator.lt, _dev_key(_bumped(padded, len(numbers))))]
    prefix = _OPERATOR.match(text)
    symbol = prefix[0] if prefix else "="
    version = _parse_version(text[prefix.end() if prefix else 0 :].lstrip())
    if symbol in ("<", ">=") and not version.stability_written:
        return [(_OPERATORS[symbol], version.dev_key())]
    return [(_OPERATORS[symbol], version.key())]


def _hyphen_range(low_text: str, high_text: str) -> list[Condition]:
    """``low - high``: inclusive of a complete ``high``, a wildcard on a partial one."""
    low = _parse_version(low_text)
    high = _parse_version(high_text)
    if len(high.numbers) >= 3 or high.stability_written:
        return [_lower_bound(low), (operator.le, high.key())]
    return [_lower_bound(low), (operator.lt, _dev_key(_bumped(high.padded(), len(high.numbers))))]


def _and_group(text: str) -> list[Condition]:
    """The bounds of conditions separated by commas or whitespace, all of which must hold."""
    conditions: list[Condition] = []
    position = 0
    while True:
        match = _AND_CONDITION.match(text, position)
        if not match:
            raise ValueError("empty condition (stray comma?)")
        try:
            if match["low"] is not None:
                conditions += _hyphen_range(match["low"], match["high"])
            else:
                conditions += _condition(match["condition"])
        except ValueError as error:
            raise ValueError(f"{match['condition']!r}: {error}") from None
        if not match["separator"]:
            return conditions
        position = match.end()


@functools.lru_cache(maxsize=1024)
def _compile(constraint: str) -> tuple[tuple[Condition, ...], ...]:
    """The constraint as OR-alternatives of AND-ed conditions."""
    alternatives = _OR_SEPARATOR.split(_require_text(constraint, "Composer constraint").strip())
    if alternatives == [""]:
        raise ValueError(f"invalid Composer constraint {constraint!r}: constraint is empty")
    compiled = []
    for alternative in alternatives:
        if not alternative:
            raise ValueError(f"invalid Composer constraint {constraint!r}: one side of '||' is empty")
        try:
            compiled.append(tuple(_and_group(alternative)))
        except ValueError as error:
            raise ValueError(f"invalid Composer constraint {constraint!r}: {error}") from None
    return tuple(compiled)


def satisfies(version: str, constraint: str) -> bool:
    """Whether PHP ``version`` (e.g. ``8.2.7``) meets Composer ``constraint`` (e.g. ``^7.4 || ^8.0``)."""
    alternatives = _compile(constraint)
    key = _runtime_key(version)
    return any(all(compare(key, bound) for compare, bound in conditions) for conditions in alternatives)
