"""Promotion records: a release reaches an environment only after the one before it ran that artifact.

A successful deploy to an environment whose policy has ``record_promotions`` (staging) writes
``<promotions_dir>/<environment>/<sha256>.json`` on the controller (the preflight role's
promotion_record tasks, at the end of the deploy, after every host passed its health checks)::

    {"environment": "staging", "version": "1.0.1", "sha256": "<64 hex>", "commit": "<git sha>",
     "time": "2024-01-01T00:00:00Z", "run_id": "<pipeline run id or controller run id>", ...}

The production preflight (``require_promotion_from: staging``) reads the record of the very
artifact it pins, by its sha256. The directory defaults to ``.cache/promotions`` in the checkout;
a pipeline passes it between jobs as an artifact (``STACKGUARD_PROMOTIONS_DIR``).

Shared by the promotion lookup and the unit tests.
"""

from __future__ import annotations

import json
import os
import re

from ansible.module_utils.change_control import refusal

SHA256 = re.compile(r"^[0-9a-f]{64}$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
REQUIRED = ("environment", "version", "sha256", "commit", "time", "run_id")


class PromotionError(ValueError):
    """A record or a request that cannot be used. The message is for the operator."""


def record_path(directory, environment, sha256):
    """Where the record of ``sha256`` deployed to ``environment`` lives."""
    if not isinstance(environment, str) or not NAME.match(environment):
        raise PromotionError(f"promotion records: {environment!r} is not an environment name")
    if not isinstance(sha256, str) or not SHA256.match(sha256):
        raise PromotionError(f"promotion records: {sha256!r} is not a sha256 (64 lower-case hex digits)")
    return os.path.join(os.path.normpath(directory), environment, sha256 + ".json")


def read_record(path):
    """A record file as a dict; PromotionError naming the file when it is not a valid record."""
    try:
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
    except OSError as exc:
        raise PromotionError(f"{path}: cannot be read ({exc.strerror})") from None
    except ValueError as exc:
        raise PromotionError(f"{path}: not JSON ({exc})") from None
    if not isinstance(record, dict):
        raise PromotionError(f"{path}: expected a JSON object")
    missing = [field for field in REQUIRED if record.get(field) in (None, "")]
    if missing:
        raise PromotionError(f"{path}: missing {', '.join(missing)}")
    return record


def recorded(directory, environment):
    """The valid records of ``environment``, newest first (for messages)."""
    folder = os.path.join(os.path.normpath(directory), environment)
    found = []
    try:
        names = os.listdir(folder)
    except OSError:
        return found
    for name in names:
        if name.endswith(".json") and SHA256.match(name[:-5]):
            try:
                found.append(read_record(os.path.join(folder, name)))
            except PromotionError:
                continue
    return sorted(found, key=lambda r: str(r.get("time")), reverse=True)


def check_promoted(directory, source, target, release, pins_source):
    """``{promoted, record, path, refusal}``: whether ``release`` ({version, sha256}) may reach
    ``target``, i.e. ``source`` deployed that artifact and recorded it."""
    version = str((release or {}).get("version") or "")
    sha256 = str((release or {}).get("sha256") or "").strip().lower()
    what = f"release {version or '(no version)'} on {target}"
    result = {"promoted": False, "record": None, "path": None, "refusal": None}
    if not sha256:
        result["refusal"] = refusal(
            what,
            f"{target}'s inventory ({pins_source}) pins no sha256 for it, so nothing ties it to the artifact "
            f"{source} ran",
            f"pin stackguard_app_release.sha256 there to the sha256 of the artifact {source} deployed "
            f"(its record is in {os.path.join(directory, source)}/)")
        return result
    if not SHA256.match(sha256):
        result["refusal"] = refusal(
            what, f"{sha256!r} ({pins_source}) is not a sha256", "pin the artifact's sha256: 64 hex digits")
        return result
    path = record_path(directory, source, sha256)
    result["path"] = path
    if not os.path.exists(path):
        others = recorded(directory, source)
        seen = ("; it has records of " + ", ".join(f"{r['version']} (sha256 {r['sha256'][:12]}…, {r['time']})"
                                                  for r in others[:5])) if others else ""
        result["refusal"] = refusal(
            f"{what} (sha256 {sha256[:12]}…)",
            f"a release reaches {target} only after {source} deployed the same artifact and it passed its "
            f"health checks there, and {source} has no record of it ({path}){seen}",
            f"deploy it to {source} first (a successful deploy there writes the record), then run {target} "
            "again; a pipeline passes the records between jobs with STACKGUARD_PROMOTIONS_DIR")
        return result
    try:
        record = read_record(path)
    except PromotionError as exc:
        result["refusal"] = refusal(what, f"its promotion record is unusable: {exc}",
                                    f"deploy it to {source} again to write a new record")
        return result
    if record["environment"] != source or record["sha256"] != sha256 or str(record["version"]) != version:
        result["refusal"] = refusal(
            what,
            f"the record {path} is of {record['environment']} release {record['version']} "
            f"(sha256 {record['sha256'][:12]}…), not of this release and artifact",
            f"pin the version and sha256 that {source} deployed together, or deploy this one to {source} first")
        return result
    result.update(promoted=True, record=record)
    return result
