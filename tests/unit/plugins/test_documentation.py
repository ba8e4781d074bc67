"""Every plugin's DOCUMENTATION renders with ansible-doc, and every documentation block is YAML (a
slip there goes unnoticed otherwise)."""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
ANSIBLE_DOC = Path(sys.executable).parent / "ansible-doc"


def plugin_names(kind):
    folder = REPO / "plugins" / kind
    names = {p.stem for p in folder.glob("*.py") if not p.name.startswith("_")}
    if kind == "filter":  # a filter file holds several filters, each documented on its own
        names = {p.stem for p in folder.glob("*.yml")} | {"stack_packages_for", "stack_diff",
                                                           "migration_violations"}
    return sorted(names)


@pytest.mark.parametrize(("ansible_type", "folder"), [
    ("module", "modules"), ("lookup", "lookup"), ("filter", "filter"),
])
def test_every_plugin_documents_itself(ansible_type, folder):
    names = plugin_names(folder)
    assert names
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    result = subprocess.run([str(ANSIBLE_DOC), "-t", ansible_type, "--json", *names], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    docs = json.loads(result.stdout)
    for name in names:
        assert docs.get(name, {}).get("doc", {}).get("short_description"), (name, result.stderr)


def doc_strings(path):
    """(name, text) of the DOCUMENTATION, EXAMPLES and RETURN strings a plugin file assigns."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
                    yield target.id, node.value.value


@pytest.mark.parametrize("path", sorted((REPO / "plugins").glob("*/*.py")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_documentation_block_is_yaml(path):
    # ansible-doc renders only some kinds (an action's RETURN, a callback's DOCUMENTATION are never
    # read by it), and a YAML slip in them would go unnoticed
    for name, text in doc_strings(path):
        try:
            yaml.safe_load(text)
        except yaml.YAMLError as exc:
            pytest.fail(f"{path.relative_to(REPO)}: {name} is not YAML: {exc}")
