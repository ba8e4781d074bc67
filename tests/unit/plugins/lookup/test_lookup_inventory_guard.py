"""inventory_guard, through Ansible, over this repository's inventories."""

from __future__ import annotations

import pytest
from tests.unit.plugins.lookup.guard_lookups import ANSIBLE, REPO, lookup

pytestmark = pytest.mark.skipif(not ANSIBLE.exists(), reason="ansible is not installed next to this Python")


def test_a_production_host_as_committed_passes_and_the_pins_come_from_the_file():
    rc, result = lookup("lookup('inventory_guard', hosts=[{'name': 'prod-web1', 'environment': 'production', "
                        "'address': '192.0.2.21', 'networks': ['192.0.2.0/24'], 'ansible_host': '192.0.2.21'}])")
    assert rc == 0
    assert result["problems"] == [] and result["declared"] is True
    assert result["inventory"] == str(REPO / "inventories" / "production")
    assert result["pins"]["stack"] == {"name": "php74-apache24", "revision": 1}
    assert result["change_control"]["require_promotion_from"] == "staging"
    assert sorted(result["environments"]) == ["local", "production", "staging"]


def test_a_staging_host_in_a_production_run_is_a_refusal_not_an_error():
    rc, result = lookup("lookup('inventory_guard', hosts=[{'name': 'stg-web1', 'environment': 'production', "
                        "'address': '198.51.100.21'}])")
    assert rc == 0
    assert result["problems"][0].startswith("Refused: host stg-web1 in a run of production. Why: stg-web1 is a host "
                                            "of staging")


def test_another_inventories_directory_can_be_given(tmp_path):
    rc, result = lookup(f"lookup('inventory_guard', hosts=[], inventories_dir='{tmp_path}')")
    assert rc == 0 and result["environments"] == {} and result["problems"] == []
