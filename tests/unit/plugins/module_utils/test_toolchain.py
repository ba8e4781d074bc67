"""toolchain: the controller's Python distributions and collections against their pins, for real."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.toolchain import (
    ToolchainError, check, collection_drift, collection_search_paths, installed_collection, read_collection_pins)

REPO = Path(__file__).resolve().parents[4]
IN_VENV = Path(sys.prefix).resolve() == (REPO / ".venv").resolve()


def collection(root, name, version, meta="MANIFEST.json"):
    namespace, short = name.split(".")
    directory = Path(root) / "ansible_collections" / namespace / short
    directory.mkdir(parents=True)
    if meta == "MANIFEST.json":
        (directory / meta).write_text(json.dumps({"collection_info": {"namespace": namespace, "name": short,
                                                                      "version": version}}))
    elif meta == "galaxy.yml":
        (directory / meta).write_text(yaml.safe_dump({"namespace": namespace, "name": short, "version": version}))
    return directory


@pytest.mark.skipif(not IN_VENV, reason="runs against the repository's .venv")
def test_this_controller_matches_the_repository_pins():
    paths = collection_search_paths([], True)
    result = check(str(REPO / "requirements.txt"), str(REPO / "requirements.yml"), paths)
    pins = [line for line in (REPO / "requirements.txt").read_text().splitlines() if "==" in line]
    collections = yaml.safe_load((REPO / "requirements.yml").read_text())["collections"]
    assert result == {"problems": [], "pins": len(pins), "collections": len(collections), "refusal": None}


def test_the_repository_collection_pins_are_read():
    assert read_collection_pins(str(REPO / "requirements.yml"))["ansible.utils"] == "6.0.0"


@pytest.mark.parametrize("text, fragment", [
    ("collections: []\n", None),
    ("roles: []\n", "expected `collections:` with a list"),
    ("collections:\n  - name: community.general\n", "collections[0]: expected {name: namespace.name, version:"),
    ("collections:\n  - name: community.general\n    version: '>=1.0'\n", "collections[0]"),
    ("collections:\n  - community.general\n", "collections[0]"),
    ("collections: [\n", "not YAML"),
])
def test_collection_pins_must_be_exact(tmp_path, text, fragment):
    path = tmp_path / "requirements.yml"
    path.write_text(text)
    if fragment is None:
        assert read_collection_pins(str(path)) == {}
        return
    with pytest.raises(ToolchainError) as caught:
        read_collection_pins(str(path))
    assert str(caught.value).startswith(str(path)) and fragment in str(caught.value)


def test_the_first_path_holding_a_collection_is_the_one_loaded(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    collection(second, "ansible.utils", "6.0.0")
    shadow = collection(first, "ansible.utils", "6.1.0", meta="galaxy.yml")
    (tmp_path / "empty").mkdir()
    paths = collection_search_paths([str(first / "ansible_collections"), str(tmp_path / "empty"), str(first)],
                                    scan_sys_path=True, sys_path=[str(second)])
    assert paths == [str(first), str(second)]
    assert installed_collection("ansible.utils", paths) == ("6.1.0", str(shadow))
    assert installed_collection("community.general", paths) == (None, None)
    assert collection_drift({"ansible.utils": "6.0.0", "community.general": "11.4.2"}, paths) == [
        f"  ansible.utils: pinned 6.0.0, loaded 6.1.0 from {shadow}",
        "  community.general: pinned 11.4.2, not installed"]
    assert collection_drift({"ansible.utils": "6.0.0"}, paths[1:]) == []


def test_a_drifted_toolchain_is_one_refusal_listing_every_difference(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("pytest==0.0.1\nstackguard-no-such-dist==1.0\n")
    pins = tmp_path / "requirements.yml"
    pins.write_text("collections:\n  - {name: ansible.utils, version: '6.0.0'}\n")
    collection(tmp_path / "c", "ansible.utils", "5.0.0")
    result = check(str(requirements), str(pins), [str(tmp_path / "c")])
    assert re.match(r"^Refused: a run from a controller whose toolchain differs from the pins\. Why: .+\. "
                    r"Instead: Restore the pins with `make toolchain-reinstall` .+\.$", result["refusal"], re.S)
    assert [line.split(",")[0] for line in result["problems"]] == [
        "  pytest: pinned 0.0.1", "  stackguard-no-such-dist: pinned 1.0", "  ansible.utils: pinned 6.0.0"]


def test_a_pin_file_that_cannot_be_read_is_a_refusal(tmp_path):
    result = check(str(tmp_path / "nowhere.txt"))
    assert result["problems"] == [f"toolchain: cannot read {tmp_path / 'nowhere.txt'}: No such file or directory"]
    assert result["refusal"].startswith("Refused: a run whose controller toolchain cannot be checked")
