"""debian_version must order versions exactly as dpkg does, so dpkg itself is the oracle.

Hand-written expectations document the rules and run anywhere; on a machine with
dpkg the same table, and a few thousand seeded random pairs built to hit the
tricky rules, are checked against ``dpkg --compare-versions``.
"""

from __future__ import annotations

import ast
import os
import random
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from plugins.module_utils import debian_version
from plugins.module_utils.debian_version import compare, parse, parse_constraint, satisfies, sort_key

requires_dpkg = pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is the oracle and is not installed")

ORDERED_PAIRS = [
    # digit runs compare numerically, leading zeros ignored
    ("1.0", "1.0", 0),
    ("1.0", "1.00", 0),
    ("1.01", "1.1", 0),
    ("1.9", "1.10", -1),
    ("1.000000000000000000001", "1.1", 0),
    ("1.18446744073709551616", "1.18446744073709551615", 1),
    ("0", "00", 0),
    # a longer string wins unless what follows is '~'
    ("1", "1.0", -1),
    ("1.0", "1.0.0", -1),
    ("1.0", "1.0.", -1),
    ("1.0", "1.0.~", -1),
    # '~' sorts before everything, even the end of the string
    ("1.0~rc1", "1.0", -1),
    ("1.0~", "1.0", -1),
    ("1.0~~", "1.0~", -1),
    ("1.0~~a", "1.0~", -1),
    ("1~", "1~a", -1),
    ("1.0~", "1.0~0", 0),
    ("1.0~rc1", "1.0~rc2", -1),
    ("1.0~rc10", "1.0~rc9", 1),
    ("1.0~beta", "1.0~alpha", 1),
    ("1.2.3~rc1+b1", "1.2.3~rc1", 1),
    # letters sort before non-letters, in ASCII order
    ("1.0a", "1.0", 1),
    ("1.0a", "1.0+", -1),
    ("1.0a", "1.0.", -1),
    ("1.0A", "1.0a", -1),
    ("1.0Z", "1.0a", -1),
    ("1.0+", "1.0.", -1),
    ("1.0+dfsg", "1.0", 1),
    ("1.0~dfsg", "1.0", -1),
    # epochs win over everything
    ("1:1.0", "2.0", 1),
    ("0:1.0", "1.0", 0),
    ("00:1.0", "1.0", 0),
    ("2:0.1", "10:0.1", -1),
    ("1:10.11.6-0+deb12u1", "10.5.19-0+deb12u2", 1),
    # revision is split at the LAST hyphen; an absent revision equals "0"
    ("1.0-0", "1.0", 0),
    ("1.0-0~", "1.0", -1),
    ("1.0-a", "1.0-0", 1),
    ("1.0-1", "1.0-1.0", -1),
    ("1.0-1-1", "1.0-1-2", -1),
    ("1.0-1-1", "1.0-1.1", 1),
    ("1.0+dfsg-1", "1.0-1", 1),
    ("1:2:3-4", "1:2:3-5", -1),
    # binNMUs, security updates and backports
    ("1.0", "1.0+b1", -1),
    ("1.0-1", "1.0-1+b1", -1),
    ("1.0-1+b1", "1.0-2", -1),
    ("1.0-1~deb11u1", "1.0-1", -1),
    ("1.0-1~bpo11+1", "1.0-1", -1),
    ("1.0-1+deb11u1", "1.0-1+deb11u2", -1),
    ("7.4.33-1+deb11u5", "7.4.33-1+deb11u4", 1),
    ("7.4.33-1+deb11u5", "7.4.33-1+deb11u10", -1),
    ("8.2.7-1~deb12u1", "8.2.7-1", -1),
    ("8.2.20-1~deb12u1", "8.2.7-1", 1),
    ("2.4.57-2", "2.4.62-1~deb12u1", -1),
    ("1.0-1ubuntu1", "1.0-1", 1),
    ("1.0-1build1", "1.0-1ubuntu1", -1),
]

# (version, what dpkg does with it): "error" exits 2, "warning" warns but still
# compares (we reject both), "accepts" is a dpkg leniency we deliberately refuse,
# None means dpkg cannot be asked (it would read the argument as an option).
INVALID_VERSIONS = [
    ("", "accepts"),  # dpkg treats the empty string as the blank version
    (" ", "error"),
    (" 1.0", "accepts"),  # dpkg trims surrounding blanks
    ("1.0\n", "warning"),  # only blanks and tabs count as spaces for dpkg
    ("1 .0", "error"),
    ("a1.0", "warning"),
    ("~1.0", "warning"),
    ("1.0_1", "warning"),
    ("1.0-a_b", "warning"),
    ("1.0-1:2", "error"),  # the first colon always ends the epoch
    ("1.0-1-", "error"),
    ("1.0-", "error"),
    ("-1.0", None),
    ("1:", "error"),
    (":1.0", "error"),
    ("a:1.0", "error"),
    ("1.0:2", "error"),  # a colon without a numeric epoch before it
    ("+1:1.0", "accepts"),  # strtol accepts the sign
    ("2147483648:1.0", "error"),
    ("1:-1", "error"),
    ("1.0é", "warning"),
]

VALID_VERSIONS = [
    ("1.0", (0, "1.0", "")),
    ("1:1.0", (1, "1.0", "")),
    ("0:1.0-1", (0, "1.0", "1")),
    ("1.0-1-1", (0, "1.0-1", "1")),
    ("1:2:3-4", (1, "2:3", "4")),
    ("7.4.33-1+deb11u5", (0, "7.4.33", "1+deb11u5")),
    ("1.0~rc1+dfsg-2~bpo12+1", (0, "1.0~rc1+dfsg", "2~bpo12+1")),
    ("2147483647:1", (2147483647, "1", "")),
    ("1.0-A.b+c~d", (0, "1.0", "A.b+c~d")),
]


def dpkg_compare_many(pairs: list[tuple[str, str]]) -> list[int]:
    """Ask ``dpkg --compare-versions`` for every pair, a few shells in parallel."""
    script = """
        while read -r a b; do
            dpkg --compare-versions "$a" lt "$b"; lt=$?
            dpkg --compare-versions "$a" gt "$b"; echo "$lt$?"
        done
    """
    verdicts = {"01": -1, "10": 1, "11": 0}

    def run(chunk: list[tuple[str, str]]) -> list[int]:
        lines = "".join(f"{a} {b}\n" for a, b in chunk)
        output = subprocess.run(["bash", "-c", script], input=lines, capture_output=True, text=True, check=True).stdout
        answers = output.split()
        assert len(answers) == len(chunk)
        return [verdicts[answer] for answer in answers]

    workers = max(2, os.cpu_count() or 1)
    chunks = [pairs[index::workers] for index in range(workers)]
    with ThreadPoolExecutor(workers) as pool:
        answered = list(pool.map(run, chunks))
    results = [0] * len(pairs)
    for index, answers in enumerate(answered):
        results[index::workers] = answers
    return results


def dpkg_verdict(version: str) -> str:
    checked = subprocess.run(["dpkg", "--compare-versions", version, "eq", "1.0"], capture_output=True, text=True)
    if checked.returncode == 2 and "error" in checked.stderr:
        return "error"
    if "warning" in checked.stderr:
        return "warning"
    return "accepts"


class VersionGenerator:
    """Seeded random versions, and near variants of them, dense in dpkg's tricky rules."""

    UPSTREAM_SEPARATORS = (
        ".", ".", ".", ".", "~", "~", "+", "~rc", "~beta", "+dfsg", "+b", "a", "b", "~~", "+really", "-", ":",
    )  # fmt: skip
    REVISION_SEPARATORS = (".", "+b", "~deb", "+deb", "u", "ubuntu", "~bpo", "+", "~", "build", "a")
    REVISIONS = ("", "", "1", "0", "1+b1", "1~deb11u1", "1+deb12u3", "2~bpo12+1", "0ubuntu0.22.04.1", "1+deb11u5")

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def digits(self) -> str:
        number = self.rng.choice([0, 0, 1, 1, 2, 3, 4, 5, 7, 9, 10, 11, 12, 33, 100, self.rng.randrange(10**12)])
        return "0" * self.rng.choice([0, 0, 0, 0, 1, 2]) + str(number)

    def tokens(self, separators: tuple[str, ...], length: int) -> list[str]:
        tokens = [self.digits()]
        for _ in range(length):
            tokens += [self.rng.choice(separators), self.digits()]
        if self.rng.random() < 0.2:
            tokens.append(self.rng.choice(separators))
        return tokens

    def version(self) -> tuple[str, list[str], list[str]]:
        epoch = self.rng.choice(["", "", "", "", "0", "1", "2", "01"])
        upstream = self.tokens(self.UPSTREAM_SEPARATORS, self.rng.randrange(0, 5))
        if self.rng.random() < 0.3:
            revision = self.tokens(self.REVISION_SEPARATORS, self.rng.randrange(0, 3))
        else:
            revision = [self.rng.choice(self.REVISIONS)]
        return epoch, upstream, [token for token in revision if token]

    def variant(self, version: tuple[str, list[str], list[str]]) -> tuple[str, list[str], list[str]]:
        epoch, upstream, revision = version[0], list(version[1]), list(version[2])
        for _ in range(self.rng.randrange(1, 3)):
            target = revision if revision and self.rng.random() < 0.4 else upstream
            separators = self.REVISION_SEPARATORS if target is revision else self.UPSTREAM_SEPARATORS
            index = self.rng.randrange(len(target))
            mutation = self.rng.randrange(7)
            if mutation == 0 and target[index].isdigit():
                target[index] = str(int(target[index]) + self.rng.choice([-1, 1, 1]) if int(target[index]) else 1)
            elif mutation == 1 and target[index].isdigit():
                target[index] = "0" + target[index]
            elif mutation == 2 and index:
                target[index] = self.rng.choice(separators) if not target[index].isdigit() else self.digits()
            elif mutation == 3:
                target += [self.rng.choice(["~", "+b", "~rc", "a", ".", "~deb", "+deb"]), self.digits()]
            elif mutation == 4:
                target.append(self.rng.choice(["~", "+", ".", "a", "~~"]))
            elif mutation == 5 and len(target) > 1:
                del target[self.rng.randrange(1, len(target)) :]
            else:
                epoch = self.rng.choice(["", "1", "0", str(int(epoch or 0) + 1)])
        return epoch, upstream, revision

    @staticmethod
    def render(version: tuple[str, list[str], list[str]]) -> str:
        epoch, upstream, revision = version
        upstream_text, revision_text = "".join(upstream), "".join(revision)
        if ":" in upstream_text and not epoch:
            epoch = "1"
        if "-" in upstream_text and not revision_text:
            revision_text = "1"
        return (f"{epoch}:" if epoch else "") + upstream_text + (f"-{revision_text}" if revision_text else "")

    def pairs(self, count: int) -> list[tuple[str, str]]:
        pairs = []
        for _ in range(count):
            first = self.version()
            second = self.variant(first) if self.rng.random() < 0.8 else self.version()
            pairs.append((self.render(first), self.render(second)))
        return pairs


GENERATED_PAIRS = VersionGenerator(seed=20240607).pairs(2000)


@pytest.fixture(scope="module")
def dpkg_orderings() -> dict[tuple[str, str], int]:
    pairs = [(a, b) for a, b, _ in ORDERED_PAIRS] + GENERATED_PAIRS
    return dict(zip(pairs, dpkg_compare_many(pairs), strict=True))


@pytest.mark.parametrize(("a", "b", "expected"), ORDERED_PAIRS)
def test_compare_orders_like_the_table(a: str, b: str, expected: int) -> None:
    assert compare(a, b) == expected
    assert compare(b, a) == -expected


@requires_dpkg
@pytest.mark.parametrize(("a", "b", "expected"), ORDERED_PAIRS)
def test_table_agrees_with_dpkg(a: str, b: str, expected: int, dpkg_orderings: dict[tuple[str, str], int]) -> None:
    assert dpkg_orderings[a, b] == expected


def test_generated_versions_are_valid_and_varied() -> None:
    versions = {version for pair in GENERATED_PAIRS for version in pair}
    for version in versions:
        parse(version)
    orderings = [compare(a, b) for a, b in GENERATED_PAIRS]
    assert len(versions) > 3000
    assert min(orderings.count(-1), orderings.count(0), orderings.count(1)) > 100
    for marker in ("~", "+b", "~deb", "+deb", ":", "-"):
        assert sum(marker in version for version in versions) > 100, marker


@requires_dpkg
def test_generated_pairs_agree_with_dpkg(dpkg_orderings: dict[tuple[str, str], int]) -> None:
    mismatches = [
        (a, b, compare(a, b), dpkg_orderings[a, b]) for a, b in GENERATED_PAIRS if compare(a, b) != dpkg_orderings[a, b]
    ]
    assert mismatches == []


def test_sort_key_sorts_like_compare() -> None:
    versions = ["1.0-1", "1:0.1", "1.0~rc1-1", "1.0-1+b1", "1.0-1~deb11u1", "1.0", "0.9+really1.0-1"]
    assert sorted(versions, key=sort_key) == [
        "0.9+really1.0-1",
        "1.0~rc1-1",
        "1.0",
        "1.0-1~deb11u1",
        "1.0-1",
        "1.0-1+b1",
        "1:0.1",
    ]


@pytest.mark.parametrize(("version", "parts"), VALID_VERSIONS)
def test_parse_splits_epoch_upstream_revision(version: str, parts: tuple[int, str, str]) -> None:
    assert parse(version) == parts


@pytest.mark.parametrize(("version", "_dpkg"), INVALID_VERSIONS)
def test_parse_rejects_invalid_versions_by_name(version: str, _dpkg: str | None) -> None:
    with pytest.raises(ValueError, match="invalid Debian version") as raised:
        parse(version)
    assert repr(version) in str(raised.value)
    with pytest.raises(ValueError):
        compare(version, "1.0")


@requires_dpkg
@pytest.mark.parametrize(("version", "dpkg"), [case for case in INVALID_VERSIONS if case[1] is not None])
def test_dpkg_reacts_to_invalid_versions_as_documented(version: str, dpkg: str) -> None:
    assert dpkg_verdict(version) == dpkg


@pytest.mark.parametrize("value", [None, 1.0, 7])
def test_non_strings_are_a_type_error(value: object) -> None:
    with pytest.raises(TypeError, match="must be a string"):
        compare(value, "1.0")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("version", "constraint", "expected"),
    [
        ("7.4.33-1+deb11u5", ">= 7.4.33-1+deb11u5, << 7.5", True),
        ("7.4.33-1+deb11u4", ">= 7.4.33-1+deb11u5, << 7.5", False),
        ("7.5~rc1-1", ">= 7.4.33-1+deb11u5, << 7.5", True),  # ~ sorts below 7.5
        ("7.5", ">= 7.4.33-1+deb11u5, << 7.5", False),
        ("7.4.33-1+deb11u5", "7.4.33-1+deb11u5", True),  # a bare version means =
        ("7.4.33-1+deb11u5", "= 7.4.33-1+deb11u5", True),
        ("7.4.33-1+deb11u5", "=7.4.33-1+deb11u6", False),
        ("1:10.11.6-0+deb12u1", ">>10.11.6-0+deb12u1", True),
        ("2.4.62-1~deb12u1", "<= 2.4.62-1~deb12u1", True),
        ("2.4.62-1~deb12u1", "<< 2.4.62-1", True),
        ("2.4.62-1", "<<2.4.62-1", False),
        ("8.2.7-1", ">=8.2,<<8.3,>>8.2.6", True),
    ],
)
def test_satisfies_range(version: str, constraint: str, expected: bool) -> None:
    assert satisfies(version, constraint) is expected


def test_parse_constraint_returns_relations() -> None:
    assert parse_constraint(" >= 7.4.33-1+deb11u5 ,<<7.5, 7.4.40") == (
        (">=", "7.4.33-1+deb11u5"),
        ("<<", "7.5"),
        ("=", "7.4.40"),
    )


@pytest.mark.parametrize(
    ("constraint", "message"),
    [
        ("< 7.5", r"'<' is deprecated .* use '<<' for strict or '<=' for inclusive"),
        (">7.4", r"'>' is deprecated .* use '>>' for strict or '>=' for inclusive"),
        ("=> 7.4", "unknown operator '=>'"),
        ("!= 7.4", "unknown operator '!='"),
        ("== 7.4", "unknown operator '=='"),
        (">=", "no version after '>='"),
        ("", "empty relation"),
        (">= 7.4,", "empty relation"),
        (">= 7.4 << 7.5", "separate relations with commas"),
        (">= php7.4", "does not start with a digit"),
        (">= 1:", "nothing after the epoch"),
    ],
)
def test_malformed_constraints_are_rejected_by_name(constraint: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        satisfies("7.4", constraint)
    assert repr(constraint) in str(raised.value)


def test_module_imports_only_the_standard_library_absolutely() -> None:
    tree = ast.parse(Path(debian_version.__file__).read_text())
    imports = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert not any(isinstance(node, ast.ImportFrom) and node.level for node in imports)
    top_level = {
        (alias.name if isinstance(node, ast.Import) else node.module).split(".")[0]
        for node in imports
        for alias in node.names
    }
    assert top_level <= set(sys.stdlib_module_names)
