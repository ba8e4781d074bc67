"""Every plugin's DOCUMENTATION renders with ansible-doc (a YAML slip there goes unnoticed otherwise)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
