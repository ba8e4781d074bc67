"""Lay out, in a temporary directory, what the host_tools role installs on a host, and run it.

``install(root)`` copies the role's bootstrap and the repository's plugins/module_utils files the
way the role does (``<root>/lib/stackguard_host.py``, ``<root>/lib/module_utils/*.py``); ``run``
executes a host-side script with ``python -S`` (no site-packages, so no Ansible: as on a host) and
that directory on PYTHONPATH. The scripts insert /usr/local/lib/stackguard first on sys.path; it
does not exist on a machine the role never ran on, so the copy under test is the one imported.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]
ROLE_FILES = REPO / "roles" / "host_tools" / "files"
BOOTSTRAP = ROLE_FILES / "usr" / "local" / "lib" / "stackguard" / "stackguard_host.py"
NOTIFY_BIN = ROLE_FILES / "usr" / "local" / "bin" / "stackguard-notify"
MODULE_UTILS = REPO / "plugins" / "module_utils"
HOST_LIB = Path("/usr/local/lib/stackguard")


def install(root):
    lib = Path(root) / "lib"
    (lib / "module_utils").mkdir(parents=True)
    shutil.copy(BOOTSTRAP, lib / "stackguard_host.py")
    for source in MODULE_UTILS.glob("*.py"):
        shutil.copy(source, lib / "module_utils" / source.name)
    return lib


def run(argv, lib, env=None, timeout=60):
    """``python -S <argv>`` with ``lib`` on PYTHONPATH; a CompletedProcess with text output."""
    environ = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(lib),
               "LC_ALL": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    return subprocess.run([sys.executable, "-S", *[str(a) for a in argv]], env=environ,
                          capture_output=True, text=True, timeout=timeout, check=False)
