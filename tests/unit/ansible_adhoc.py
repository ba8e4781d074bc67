"""Run one of the repo's modules for real, as `ansible localhost -m <module>`, and read its result.

Shared by the module tests: the repository's ansible.cfg (library and module_utils paths), the
json stdout callback, and an in-memory fact cache so nothing is written to .cache/facts.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ANSIBLE = Path(sys.executable).parent / "ansible"
ENV = {
    **os.environ,
    "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
    "ANSIBLE_STDOUT_CALLBACK": "json",
    "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",  # ad-hoc runs use the stdout callback only with this
    "ANSIBLE_CACHE_PLUGIN": "memory",
    "ANSIBLE_NOCOLOR": "1",
    "LC_ALL": "C.UTF-8",
}

# Module tests need ansible beside this Python and a dpkg system to look at.
requires_ansible_and_dpkg = [
    pytest.mark.skipif(not ANSIBLE.exists(), reason="ansible is not installed next to this Python"),
    pytest.mark.skipif(not shutil.which("dpkg-query") or not shutil.which("apt-mark"),
                       reason="not a dpkg system"),
]


def ansible(module, args, *flags):
    """Run one ad-hoc task on localhost; (rc, the host's result)."""
    proc = subprocess.run(
        [str(ANSIBLE), "localhost", "-c", "local", "-i", "localhost,", "-m", module,
         "-a", json.dumps(args), *flags],
        cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120, check=False)
    try:
        output = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"ansible printed no JSON (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.returncode, output["plays"][0]["tasks"][0]["hosts"]["localhost"]


def direct(*argv):
    """A command's stdout, run directly (not through Ansible), with LC_ALL=C."""
    return subprocess.run(argv, capture_output=True, text=True, check=False,
                          env={**os.environ, "LC_ALL": "C"}).stdout
