"""Measure debian_version.compare() throughput against the 200,000 comparisons/s target.

Why: manifests check every installed package against its pins on each run, so
compare() must stay cheap. This times all pairs of a realistic Debian 11/12
PHP, Apache and MariaDB version list (so the parse cache is warm, as in a real
run) and reports the median of several rounds. Run: python3 bench/version_compare.py
"""

from __future__ import annotations

import itertools
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "module_utils"))

from debian_version import compare

TARGET_PER_SECOND = 200_000
ROUNDS = 7

VERSIONS = [
    "7.4.33-1+deb11u1", "7.4.33-1+deb11u4", "7.4.33-1+deb11u5", "7.4.33-1+deb11u10",
    "8.2.7-1~deb12u1", "8.2.18-1~deb12u1", "8.2.20-1~deb12u1", "8.2.24-1~deb12u1",
    "8.3.0~rc1-1", "8.3.0-1+0~20231124.10+debian12~1.gbp8df2a1",
    "2:7.4.33-1+deb11u5", "2:8.2+93", "2:8.2+93+b1",
    "2.4.56-1~deb11u2", "2.4.57-2", "2.4.59-1~deb12u1", "2.4.62-1~deb12u1", "2.4.62-1~deb11u1",
    "1:10.5.21-0+deb11u1", "1:10.5.26-0+deb11u2", "1:10.11.3-1", "1:10.11.6-0+deb12u1",
    "1:10.11.11-0+deb12u1", "1:11.4.2+maria~deb12",
    "3.0.11-1~deb12u2", "1.1.1w-0+deb11u1", "252.30-1~deb12u2", "2.36-9+deb12u7",
    "1.2.13.dfsg-1", "1:1.2.13.dfsg-1+b1",
]  # fmt: skip


def comparisons_per_second(pairs: list[tuple[str, str]]) -> float:
    started = time.perf_counter()
    for a, b in pairs:
        compare(a, b)
    return len(pairs) / (time.perf_counter() - started)


def main() -> int:
    pairs = list(itertools.product(VERSIONS, repeat=2)) * 100
    comparisons_per_second(pairs[: len(VERSIONS) ** 2])  # warm the parse cache
    median = statistics.median(comparisons_per_second(pairs) for _ in range(ROUNDS))
    verdict = "PASS" if median >= TARGET_PER_SECOND else "BELOW"
    print(f"compare(): {median:,.0f} comparisons/s (median of {ROUNDS} rounds of {len(pairs):,})")
    print(f"target:    {TARGET_PER_SECOND:,} comparisons/s -> {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
