"""One stack check for every caller: the stack_verify module, the on-host drift monitor and the tests.

``check_host(gatherer, manifest, groups, package_ranges)`` gathers the host's stack with a
``stack_facts.FactGatherer`` (only what the host's slice of the manifest pins) and compares it with
``stack_check.compare``; the module passes a gatherer that runs commands through AnsibleModule
(``stack_module.gatherer``), the monitor one that runs them with subprocess (``host_gatherer``).
Same order of probes, same comparison, same drift items and summary.

Standard library only; Python 3.9+ (Debian bullseye's python3).
"""
import os
import shutil
import subprocess

from ansible.module_utils.stack_check import (
    compare, pinned_packages, pinned_services, runtimes_for, summary)
from ansible.module_utils.stack_facts import FactGatherer

REQUIRED_FIELDS = ("name", "revision", "packages")
# AnsibleModule.get_bin_path also looks in these, whatever PATH says.
SBIN_DIRS = ("/sbin", "/usr/sbin", "/usr/local/sbin")
COMMAND_TIMEOUT = 120


def manifest_errors(manifest):
    """Why ``manifest`` cannot be checked against (empty when it can)."""
    if not isinstance(manifest, dict):
        return ["manifest: not a mapping; pass the manifest the stack_manifest lookup returns"]
    return [f"manifest: field '{field}' is missing; pass the manifest the stack_manifest lookup returns"
            for field in REQUIRED_FIELDS if field not in manifest]


def check_host(gatherer, manifest, groups, package_ranges=None):
    """``{in_sync, drift, summary, stack_facts}`` for the host ``gatherer`` looks at.

    Raises ValueError for a manifest that cannot be checked against (see ``manifest_errors``) or
    a malformed dpkg range, RuntimeError when a probe fails (apt-mark, php).
    """
    errors = manifest_errors(manifest)
    if errors:
        raise ValueError("; ".join(errors))
    facts = gatherer.gather(pinned_packages(manifest, groups), pinned_services(manifest, groups),
                            runtimes_for(manifest, groups))
    items = compare(facts, manifest, groups, package_ranges or {})
    return {"in_sync": not items, "drift": items, "summary": summary(items, manifest),
            "stack_facts": facts}


def run_command(argv):
    """``(rc, stdout, stderr)`` of ``argv`` with LC_ALL=C, as AnsibleModule.run_command returns them.

    A missing program is rc 127 and a command that hangs is killed after COMMAND_TIMEOUT seconds
    (rc 124), both with the reason on stderr, rather than an exception.
    """
    env = dict(os.environ, LC_ALL="C")
    try:
        proc = subprocess.run([str(a) for a in argv], env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, errors="replace",
                              timeout=COMMAND_TIMEOUT, check=False)
    except FileNotFoundError as error:
        return 127, "", str(error)
    except subprocess.TimeoutExpired:
        return 124, "", f"{argv[0]} did not finish within {COMMAND_TIMEOUT} s"
    return proc.returncode, proc.stdout, proc.stderr


def which(name):
    """The program's path as AnsibleModule.get_bin_path finds it (PATH, then the sbin dirs), or None."""
    path = os.environ.get("PATH", os.defpath).split(os.pathsep)
    path += [d for d in SBIN_DIRS if d not in path]
    return shutil.which(name, path=os.pathsep.join(path))


def host_gatherer():
    """A FactGatherer for the host this runs on, with no Ansible (subprocess and PATH)."""
    return FactGatherer(run_command, which)
