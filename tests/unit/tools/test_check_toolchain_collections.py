"""tools/check_toolchain.py --collections: the collections Ansible loads against requirements.yml."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
PYTHON = REPO / ".venv" / "bin" / "python"
SCRIPT = REPO / "tools" / "check_toolchain.py"
COLLECTIONS = yaml.safe_load((REPO / "requirements.yml").read_text())["collections"]

pytestmark = pytest.mark.skipif(not PYTHON.exists(), reason=f"{PYTHON} does not exist (make toolchain)")


def check(*args, env=None):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    environment.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), **(env or {}))
    proc = subprocess.run([str(PYTHON), str(SCRIPT), *args], cwd=REPO, env=environment,
                          capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def test_the_pinned_collections_are_the_ones_loaded():
    pins = [line for line in (REPO / "requirements.txt").read_text().splitlines() if "==" in line]
    rc, out, err = check("requirements.txt", "--collections", "requirements.yml")
    assert (rc, err) == (0, "")
    assert out == (f"toolchain: {len(pins)} pins match requirements.txt, {len(COLLECTIONS)} collections match "
                   "requirements.yml\n")


def test_a_collection_installed_over_the_pinned_one_is_refused(tmp_path):
    import ansible

    pinned = {c["name"]: c["version"] for c in COLLECTIONS}["community.general"]
    installed = Path(ansible.__file__).resolve().parents[1] / "ansible_collections" / "community" / "general"
    shadow = tmp_path / "ansible_collections" / "community" / "general"
    shadow.mkdir(parents=True)
    shutil.copy(installed / "MANIFEST.json", shadow / "MANIFEST.json")
    manifest = json.loads((shadow / "MANIFEST.json").read_text())
    manifest["collection_info"]["version"] = "1.0.0"
    (shadow / "MANIFEST.json").write_text(json.dumps(manifest))
    rc, out, err = check("--collections", "requirements.yml", env={"ANSIBLE_COLLECTIONS_PATH": str(tmp_path)})
    assert (rc, out) == (1, "")
    assert err.splitlines() == [
        "toolchain: the controller differs from requirements.txt and requirements.yml:",
        f"  community.general: pinned {pinned}, loaded 1.0.0 from {shadow}",
        "toolchain: refusing to run. Restore the pins with `make toolchain-reinstall` "
        "(or change requirements.txt through a reviewed commit).",
    ]


def test_a_bad_collections_file_is_a_clean_error(tmp_path):
    bad = tmp_path / "requirements.yml"
    bad.write_text("collections:\n  - name: community.general\n")
    rc, out, err = check("--collections", str(bad))
    assert rc == 1 and "Traceback" not in err
    assert err.startswith(f"{bad}: collections[0]: expected")
