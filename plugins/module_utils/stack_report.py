"""The fleet report of a stack check: one entry per host, the lines printed, the verdict.

Built from each host's ``stack_verify`` result. A host with no result (unreachable, or failed
before its check) counts as drift: an unverified host is not a verified one.
"""
import json

from ansible.module_utils.file_paths import write_atomically

NOT_CHECKED = "not checked: the host gave no result"


def entry(result):
    """``{in_sync, summary, drift}`` of one host's stack_verify result (None when it gave none)."""
    result = result if isinstance(result, dict) else {}
    return {"in_sync": result.get("in_sync") is True,
            "summary": result.get("summary") or NOT_CHECKED,
            "drift": list(result.get("drift") or [])}


def build(results):
    """``{host: entry}`` in the order of ``results`` (``{host: result or None}``)."""
    return {host: entry(result) for host, result in results.items()}


def drifted(report):
    return [host for host, item in report.items() if not item["in_sync"]]


def lines(report):
    """``host: summary`` for every host: what a run prints."""
    return [f"{host}: {item['summary']}" for host, item in report.items()]


def describe(host, item):
    """``host (kind name, kind name)``, or ``host (summary)`` when it has no items (not checked)."""
    names = ", ".join(f"{drift['kind']} {drift['name']}" for drift in item["drift"])
    return f"{host} ({names or item['summary']})"


def failure(report):
    """The message of a run where some host drifts: those hosts first, then every host's line."""
    bad = drifted(report)
    return (f"{len(bad)} of {len(report)} hosts drift: "
            f"{'; '.join(describe(host, report[host]) for host in bad)}. "
            f"Report: {'; '.join(lines(report))}")


def write(path, report):
    """The report as JSON (sorted keys, 4-space indent), replaced in one rename."""
    write_atomically(path, json.dumps(report, indent=4, sort_keys=True) + "\n", 0o644)
