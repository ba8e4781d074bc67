"""The bootstrap makes ansible.module_utils.<name> resolve to the installed copies, with or without Ansible."""
import json
import subprocess
import sys

import pytest

from tests.unit.roles.host_tools.hostside import BOOTSTRAP, HOST_LIB, install, run

pytestmark = pytest.mark.skipif(HOST_LIB.exists(), reason=f"{HOST_LIB} exists here and would shadow the copy under test")

PROBE = r"""
import json, sys
sys.path.insert(0, "/usr/local/lib/stackguard")
import stackguard_host
from ansible.module_utils.stack_check import compare, summary
from ansible.module_utils.notify import payload
import ansible.module_utils.debian_version as dv
print(json.dumps({
    "stack_check": sys.modules["ansible.module_utils.stack_check"].__file__,
    "debian_version": dv.__file__,
    "ansible_file": getattr(sys.modules["ansible"], "__file__", None),
    "summary": summary([], {"name": "s", "revision": 2}),
    "compare": compare({"packages": {"bash": "5.2-1"}, "holds": ["bash"]},
                       {"packages": {"tools": {"bash": ">= 5.1"}}}, ["tools"]),
    "text": payload({"kind": "drift", "summary": "x", "status": "warning"}, "slack")["text"],
}))
"""


def test_without_ansible_the_stub_packages_load_the_installed_files(tmp_path):
    lib = install(tmp_path)
    no_ansible = run(["-c", "import ansible"], lib)
    assert no_ansible.returncode != 0 and "No module named 'ansible'" in no_ansible.stderr
    proc = run(["-c", PROBE], lib)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["stack_check"] == str(lib / "module_utils" / "stack_check.py")
    assert out["debian_version"] == str(lib / "module_utils" / "debian_version.py")
    assert out["ansible_file"] is None  # the stub, not a real Ansible
    assert out["summary"] == "in sync with s@2"
    # a dpkg range goes through debian_version, imported by stack_check as ansible.module_utils.*
    assert out["compare"] == []
    assert out["text"] == "[stackguard] drift WARNING: x"


def test_a_missing_library_is_an_import_error_naming_it(tmp_path):
    lib = install(tmp_path)
    (lib / "module_utils" / "debian_version.py").unlink()
    proc = run(["-c", PROBE], lib)
    assert proc.returncode == 1
    assert "No module named 'ansible.module_utils.debian_version'" in proc.stderr


def test_with_ansible_already_imported_the_installed_copies_come_first(tmp_path):
    lib = install(tmp_path)
    (lib / "module_utils" / "notify.py").write_text("WHICH = 'installed copy'\n", encoding="utf-8")
    probe = ("import sys, ansible.module_utils, ansible.module_utils.basic\n"
             f"sys.path.insert(0, {str(lib)!r})\n"
             "import stackguard_host\n"
             "from ansible.module_utils.notify import WHICH\n"
             "import ansible\n"
             "print(WHICH, ansible.module_utils.__path__[0], bool(ansible.__file__))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["installed", "copy", str(lib / "module_utils"), "True"]


def test_installing_twice_keeps_one_path_entry(tmp_path):
    lib = install(tmp_path)
    probe = ("import sys, importlib\n"
             "import stackguard_host\n"
             "stackguard_host.install(); importlib.reload(stackguard_host)\n"
             "print(list(sys.modules['ansible.module_utils'].__path__))")
    proc = run(["-c", probe], lib)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == repr([str(lib / "module_utils")])


def test_the_role_ships_the_bootstrap_it_documents():
    assert 'sys.path.insert(0, "/usr/local/lib/stackguard")' in BOOTSTRAP.read_text(encoding="utf-8")
