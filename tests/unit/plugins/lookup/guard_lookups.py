"""Run the preflight guard lookups for real, as `ansible localhost -m debug`, with a clean environment."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]
ANSIBLE = Path(sys.executable).parent / "ansible"
_SCRUBBED = re.compile(r"^(CI|CI_.*|GITHUB_.*|BUILD_ID|STACKGUARD_.*|ANSIBLE_.*|MOLECULE_.*|PYTHONPATH)$")


def lookup(expression, *flags, env=None):
    """``(rc, msg or the error)`` of ``{{ expression }}`` templated in a debug task on localhost."""
    environment = {k: v for k, v in os.environ.items() if not _SCRUBBED.match(k)}
    environment.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="json",
                       ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_CACHE_PLUGIN="memory", ANSIBLE_NOCOLOR="1")
    environment.update(env or {})
    proc = subprocess.run([str(ANSIBLE), "localhost", "-c", "local", "-i", "localhost,", "-m", "ansible.builtin.debug",
                           "-a", json.dumps({"msg": "{{ " + expression + " }}"}), *flags],
                          cwd=REPO, env=environment, capture_output=True, text=True, timeout=120)
    try:
        result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        raise AssertionError(f"no JSON result (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}") from None
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, result.get("msg")
