"""yaml_data: the same data as PyYAML's safe loader, through libyaml when PyYAML has it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible.module_utils import yaml_data

REPO = Path(__file__).resolve().parents[4]


def test_libyaml_is_used_when_pyyaml_has_it():
    expected = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
    assert yaml_data.SafeLoader is expected


@pytest.mark.parametrize("path", sorted((REPO / "stacks").glob("*.yml"))
                         + sorted((REPO / "inventories").glob("*/hosts.yml")), ids=lambda p: p.name)
def test_the_repos_files_read_the_same_as_with_the_pure_python_loader(path):
    text = path.read_text(encoding="utf-8")
    assert yaml_data.safe_load(text) == yaml.load(text, Loader=yaml.SafeLoader)  # noqa: S506


def test_unsafe_tags_are_refused():
    with pytest.raises(yaml.YAMLError):
        yaml_data.safe_load("!!python/object/apply:os.system ['true']")
