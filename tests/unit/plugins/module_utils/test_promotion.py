"""promotion: where records live, and whether a release may reach the next environment."""

from __future__ import annotations

import json
import os
import re

import pytest
from ansible.module_utils.promotion import PromotionError, check_promoted, read_record, record_path, recorded

SHA = "ab" * 32
OTHER = "cd" * 32
REFUSAL = re.compile(r"^Refused: .+\. Why: .+\. Instead: .+\.$", re.S)


def write(directory, environment, version, sha256, **fields):
    path = record_path(directory, environment, sha256)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    record = {"environment": environment, "version": version, "sha256": sha256, "commit": "c" * 40,
              "time": fields.pop("time", "2024-05-01T10:00:00Z"), "run_id": "42", **fields}
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(record, handle)
    return path


def check(directory, version="1.0.0", sha256=SHA):
    return check_promoted(str(directory), "staging", "production", {"version": version, "sha256": sha256}, "vars.yml")


def test_a_release_staging_recorded_is_promoted(tmp_path):
    path = write(tmp_path, "staging", "1.0.0", SHA)
    result = check(tmp_path, sha256=SHA.upper())
    assert result["promoted"] is True and result["refusal"] is None
    assert result["path"] == path and result["record"]["run_id"] == "42"


def test_a_release_staging_never_ran_is_refused_listing_what_it_ran(tmp_path):
    write(tmp_path, "staging", "0.9.0", OTHER, time="2024-04-01T00:00:00Z")
    write(tmp_path, "staging", "0.9.1", "ef" * 32, time="2024-04-02T00:00:00Z")
    write(tmp_path, "production", "1.0.0", SHA)  # production's own records do not count
    result = check(tmp_path)
    assert result["promoted"] is False and REFUSAL.match(result["refusal"])
    assert result["refusal"].startswith(f"Refused: release 1.0.0 on production (sha256 {SHA[:12]}…). Why: a release "
                                        "reaches production only after staging deployed the same artifact")
    assert f"it has records of 0.9.1 (sha256 {'ef' * 6}…, 2024-04-02T00:00:00Z), 0.9.0" in result["refusal"]


def test_the_same_version_with_another_artifact_is_not_promoted(tmp_path):
    write(tmp_path, "staging", "1.0.0", OTHER)
    assert "staging has no record of it" in check(tmp_path)["refusal"]


@pytest.mark.parametrize("release, fragment", [
    ({"version": "1.0.0", "sha256": ""}, "production's inventory (vars.yml) pins no sha256 for it"),
    ({"version": "1.0.0"}, "pins no sha256 for it"),
    ({"version": "1.0.0", "sha256": "abc"}, "'abc' (vars.yml) is not a sha256"),
])
def test_a_release_without_a_usable_sha256_is_refused(tmp_path, release, fragment):
    result = check_promoted(str(tmp_path), "staging", "production", release, "vars.yml")
    assert REFUSAL.match(result["refusal"]) and fragment in result["refusal"]


def test_a_record_of_another_version_for_the_artifact_is_refused(tmp_path):
    write(tmp_path, "staging", "1.0.0-rc1", SHA)
    assert "is of staging release 1.0.0-rc1" in check(tmp_path)["refusal"]


@pytest.mark.parametrize("content, fragment", [
    ("not json", "not JSON"),
    ("[]", "expected a JSON object"),
    (json.dumps({"environment": "staging", "version": "1.0.0", "sha256": SHA}), "missing commit, time, run_id"),
])
def test_an_unusable_record_is_refused_naming_it(tmp_path, content, fragment):
    path = tmp_path / "staging" / f"{SHA}.json"
    path.parent.mkdir()
    path.write_text(content)
    result = check(tmp_path)
    assert REFUSAL.match(result["refusal"]) and f"{path}: {fragment}" in result["refusal"]
    with pytest.raises(PromotionError):
        read_record(str(path))
    assert recorded(str(tmp_path), "staging") == []


@pytest.mark.parametrize("environment, sha256", [("../staging", SHA), ("staging", "../" + SHA[3:]),
                                                  ("staging", "AB" * 32)])
def test_record_paths_stay_inside_the_directory(tmp_path, environment, sha256):
    with pytest.raises(PromotionError):
        record_path(str(tmp_path), environment, sha256)
