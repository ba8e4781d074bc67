"""toolchain, through Ansible: the collections it compares are the ones this Ansible loads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import ansible
import pytest
import yaml
from tests.unit.plugins.lookup.guard_lookups import ANSIBLE, REPO, lookup

pytestmark = pytest.mark.skipif(not ANSIBLE.exists(), reason="ansible is not installed next to this Python")
INSTALLED = Path(ansible.__file__).resolve().parents[1] / "ansible_collections"


def test_this_controller_matches_its_pins():
    rc, result = lookup("lookup('toolchain')")
    assert rc == 0 and result["problems"] == [] and result["refusal"] is None
    assert result["collections"] == len(yaml.safe_load((REPO / "requirements.yml").read_text())["collections"])


def test_a_collection_installed_over_the_pinned_one_is_refused(tmp_path):
    copy = shutil.copytree(INSTALLED / "community" / "mysql",
                           tmp_path / "ansible_collections" / "community" / "mysql")
    manifest = json.loads((copy / "MANIFEST.json").read_text())
    manifest["collection_info"]["version"] = "99.0.0"
    (copy / "MANIFEST.json").write_text(json.dumps(manifest))
    rc, result = lookup("lookup('toolchain')", env={"ANSIBLE_COLLECTIONS_PATH": str(tmp_path)})
    assert rc == 0
    pinned = {c["name"]: c["version"] for c in yaml.safe_load((REPO / "requirements.yml").read_text())["collections"]}
    assert result["problems"] == [f"  community.mysql: pinned {pinned['community.mysql']}, loaded 99.0.0 from {copy}"]
    assert result["refusal"].startswith("Refused: a run from a controller whose toolchain differs from the pins")
