"""promotion, through Ansible."""

from __future__ import annotations

import json

import pytest
from tests.unit.plugins.lookup.guard_lookups import ANSIBLE, lookup

pytestmark = pytest.mark.skipif(not ANSIBLE.exists(), reason="ansible is not installed next to this Python")
SHA = "12" * 32


def test_a_recorded_release_is_promoted_and_another_is_refused(tmp_path):
    (tmp_path / "staging").mkdir()
    (tmp_path / "staging" / f"{SHA}.json").write_text(json.dumps({
        "environment": "staging", "version": "2.0.0", "sha256": SHA, "commit": "a" * 40,
        "time": "2024-05-01T10:00:00Z", "run_id": "9"}))
    expression = ("lookup('promotion', {{'version': '{v}', 'sha256': '{s}'}}, source='staging', target='production', "
                  f"promotions_dir='{tmp_path}', pins_source='vars.yml')")
    rc, result = lookup(expression.format(v="2.0.0", s=SHA))
    assert rc == 0 and result["promoted"] is True and result["record"]["run_id"] == "9"
    rc, result = lookup(expression.format(v="2.0.1", s="34" * 32))
    assert rc == 0 and result["promoted"] is False
    assert "staging has no record of it" in result["refusal"] and "it has records of 2.0.0" in result["refusal"]


def test_a_bad_environment_name_is_a_clean_error(tmp_path):
    rc, message = lookup(f"lookup('promotion', {{'version': '1', 'sha256': '{SHA}'}}, source='../etc', "
                         f"target='production', promotions_dir='{tmp_path}')")
    assert rc != 0 and "'../etc' is not an environment name" in message


def test_every_release_gets_its_own_verdict(tmp_path):
    rc, result = lookup(f"query('promotion', {{'version': '1', 'sha256': ''}}, {{'version': '2', 'sha256': '{SHA}'}}, "
                        f"source='staging', target='production', promotions_dir='{tmp_path}')")
    assert rc == 0
    assert [r["promoted"] for r in result] == [False, False]
    assert "pins no sha256" in result[0]["refusal"] and "staging has no record of it" in result[1]["refusal"]
