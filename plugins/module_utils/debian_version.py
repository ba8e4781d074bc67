"""Debian package version parsing, ordering and range checks, exactly as dpkg does them.

Why this exists: manifests pin packages such as ``php7.4 >= 7.4.33-1+deb11u5`` and
the checks run on the controller and inside modules, where shelling out to
``dpkg --compare-versions`` for every comparison is slow (a process per pair) and
is not even possible on a non-Debian controller. So the ordering is reimplemented
here with the same rules as dpkg's ``verrevcmp`` (see deb-version(7)):

* ``[epoch:]upstream[-revision]``; the epoch is an unsigned integer (0 when
  omitted), the revision is everything after the LAST hyphen ('' when absent).
* Epochs compare numerically, then upstream, then revision, each with the same
  algorithm: alternate runs of non-digits and digits. Non-digit runs compare
  character by character where ``~`` sorts before everything, even the end of
  the run, then the end of the run, then letters (ASCII order), then any other
  character. Digit runs compare numerically (leading zeros ignored, an empty run
  is 0). Hence ``1.0~rc1 << 1.0 << 1.0+b1`` and ``1.0-0 = 1.0``.

Validation is deliberately stricter than dpkg, so a typo in a manifest is an
error instead of a silently odd ordering. ``parse`` raises ``ValueError`` for
everything dpkg rejects (empty, embedded blanks, empty or non-numeric or
oversized epoch, nothing after the colon, empty revision) and also for what dpkg
only warns about and then compares anyway: an upstream version not starting with
a digit and characters outside deb-version(7)'s alphabet. It also rejects
surrounding whitespace (dpkg trims it) and a signed epoch such as ``+1:1.0``
(dpkg's ``strtol`` accepts it). A colon in the upstream version is only possible
with an explicit epoch, because the first colon always ends the epoch.

Parsing is cached, so repeated comparisons of the same versions only cost two
cache look-ups and one tuple comparison. Standard library only: the file is
imported as ``ansible.module_utils.debian_version`` inside modules and as a
plain module elsewhere.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Callable

MAX_EPOCH = 2**31 - 1  # dpkg stores the epoch in a C int

_UPSTREAM_CHARACTERS = re.compile(r"[A-Za-z0-9.+~:-]*")
_REVISION_CHARACTERS = re.compile(r"[A-Za-z0-9.+~]*")
_DIGIT_RUNS = re.compile(r"([0-9]+)")

# Non-digit runs become strings whose code-point order is dpkg's character
# order: '~' < end of run < letters < everything else.
_END_OF_RUN = "\x02"
_CHARACTER_ORDER = str.maketrans(
    {
        **{chr(code): chr(code + 256) for code in range(128)},
        **{letter: letter for letter in string.ascii_letters},
        "~": "\x01",
    }
)

RELATIONS: dict[str, Callable[[int], bool]] = {
    "<<": lambda ordering: ordering < 0,
    "<=": lambda ordering: ordering <= 0,
    "=": lambda ordering: ordering == 0,
    ">=": lambda ordering: ordering >= 0,
    ">>": lambda ordering: ordering > 0,
}

Constraint = tuple[tuple[str, str], ...]


def _invalid(version: str, reason: str) -> ValueError:
    return ValueError(f"invalid Debian version {version!r}: {reason}")


@functools.lru_cache(maxsize=8192)
def parse(version: str) -> tuple[int, str, str]:
    """Split a Debian version into ``(epoch, upstream, revision)``; ``ValueError`` if invalid."""
    if not isinstance(version, str):
        raise TypeError(f"Debian version must be a string, not {type(version).__name__}: {version!r}")
    if not version:
        raise _invalid(version, "version string is empty")
    if any(character.isspace() for character in version):
        raise _invalid(version, "version string contains whitespace")

    epoch_text, colon, rest = version.partition(":")
    if colon:
        if not epoch_text:
            raise _invalid(version, "epoch before ':' is empty")
        if not (epoch_text.isascii() and epoch_text.isdigit()):
            raise _invalid(version, f"epoch {epoch_text!r} is not an unsigned number")
        epoch = int(epoch_text)
        if epoch > MAX_EPOCH:
            raise _invalid(version, f"epoch {epoch_text} is bigger than {MAX_EPOCH}")
        if not rest:
            raise _invalid(version, "nothing after the epoch's ':'")
    else:
        epoch, rest = 0, version

    upstream, hyphen, revision = rest.rpartition("-")
    if not hyphen:
        upstream, revision = rest, ""
    elif not revision:
        raise _invalid(version, "revision after the last '-' is empty")

    if not upstream:
        raise _invalid(version, "upstream version is empty")
    if not upstream[0].isascii() or not upstream[0].isdigit():
        raise _invalid(version, f"upstream version {upstream!r} does not start with a digit")
    if not _UPSTREAM_CHARACTERS.fullmatch(upstream):
        raise _invalid(version, f"upstream version {upstream!r} may only contain A-Za-z0-9 and . + - : ~")
    if not _REVISION_CHARACTERS.fullmatch(revision):
        raise _invalid(version, f"revision {revision!r} may only contain A-Za-z0-9 and . + ~")
    return epoch, upstream, revision


def _ordering_key(part: str) -> tuple[str | int, ...]:
    """Encode an upstream version or revision so that tuple order is dpkg's order.

    The key alternates a non-digit run (translated, terminated) and the number of
    the following digit run. It always ends with the pair (0, end-of-run), the
    value dpkg implicitly compares once a string is exhausted, so keys of
    different lengths compare as dpkg compares strings of different lengths.
    """
    pieces = _DIGIT_RUNS.split(part)
    key: list[str | int] = [
        int(piece) if index % 2 else piece.translate(_CHARACTER_ORDER) + _END_OF_RUN
        for index, piece in enumerate(pieces)
    ]
    if key[-2:] != [0, _END_OF_RUN]:
        key += [0, _END_OF_RUN]
    return tuple(key)


@functools.lru_cache(maxsize=8192)
def sort_key(version: str) -> tuple[int, tuple[str | int, ...], tuple[str | int, ...]]:
    """A key for ``sorted()`` that orders versions exactly as dpkg does."""
    epoch, upstream, revision = parse(version)
    return epoch, _ordering_key(upstream), _ordering_key(revision)


def compare(a: str, b: str) -> int:
    """Return -1, 0 or 1 as ``a`` sorts before, equal to, or after ``b`` for dpkg."""
    key_a = sort_key(a)
    key_b = sort_key(b)
    return (key_a > key_b) - (key_a < key_b)


def check_relation(version: str, relation: str, reference: str) -> bool:
    """Whether ``version <relation> reference`` holds, relation being one of ``RELATIONS``."""
    if relation not in RELATIONS:
        raise ValueError(f"unknown dpkg relation {relation!r}: use one of {', '.join(RELATIONS)}")
    return RELATIONS[relation](compare(version, reference))


@functools.lru_cache(maxsize=1024)
def parse_constraint(constraint: str) -> Constraint:
    """Parse ``">= 7.4.33-1+deb11u5, << 7.5"`` into ``((">=", "7.4.33-1+deb11u5"), ("<<", "7.5"))``.

    The constraint is a comma-separated AND of dpkg relations; a bare version
    means ``=``. ``ValueError`` names the constraint for anything malformed,
    including the bare ``<`` and ``>`` that dpkg deprecated because they meant
    ``<=`` and ``>=``.
    """
    if not isinstance(constraint, str):
        raise TypeError(f"dpkg constraint must be a string, not {type(constraint).__name__}: {constraint!r}")
    relations = []
    for clause in constraint.split(","):
        clause = clause.strip()
        if not clause:
            raise ValueError(f"invalid dpkg constraint {constraint!r}: empty relation (stray or missing comma?)")
        version = clause.lstrip("<>=!")
        operator = clause[: len(clause) - len(version)] or "="
        version = version.lstrip()
        if operator in ("<", ">"):
            raise ValueError(
                f"invalid dpkg constraint {constraint!r}: operator {operator!r} is deprecated and ambiguous"
                f" (dpkg reads it as {operator}=); use '{operator * 2}' for strict or '{operator}=' for inclusive"
            )
        if operator not in RELATIONS:
            raise ValueError(
                f"invalid dpkg constraint {constraint!r}: unknown operator {operator!r},"
                f" use one of {', '.join(RELATIONS)}"
            )
        if not version:
            raise ValueError(f"invalid dpkg constraint {constraint!r}: no version after {operator!r}")
        if any(character.isspace() for character in version):
            raise ValueError(
                f"invalid dpkg constraint {constraint!r}: {clause!r} is not one relation;"
                " separate relations with commas"
            )
        try:
            parse(version)
        except ValueError as error:
            raise ValueError(f"invalid dpkg constraint {constraint!r}: {error}") from None
        relations.append((operator, version))
    return tuple(relations)


def satisfies(version: str, constraint: str) -> bool:
    """Whether ``version`` meets every relation of a comma-separated dpkg constraint."""
    return all(check_relation(version, operator, reference) for operator, reference in parse_constraint(constraint))
