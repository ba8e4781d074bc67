"""What the preflight integration tests and the Molecule `guard` scenario share.

A test runs the repo's real playbooks, with the repo's toolchain (.venv), from a *checkout*: a copy
of the working tree as git sees it (tracked and untracked files, not ignored ones), committed on
branch main in a fresh repository, so that the run's commit, branch and cleanliness are the test's
to choose, and so that its inventories/ can hold fake `staging` and `production` environments
(the real change_control.yml files are kept). Each run gets a clean environment: no CI variables,
no ANSIBLE_* or MOLECULE_* settings from the caller, ANSIBLE_CONFIG of the checkout.

A ghost host is reached with community.docker.docker at a container that does not exist, so a
missed refusal cannot change anything: it shows up as a task after the controller checks that fails
with "No such container".
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import select
import shutil
import subprocess
import termios
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"
ROLE_TASKS = REPO / "roles" / "preflight" / "tasks"
PREFLIGHT_PLAY = "Check the run before any host changes"
FATAL = re.compile(r"^fatal: \[([^\]]+)\]: FAILED! => (\{.*\})$", re.M)
HEADER = re.compile(r"^(PLAY|TASK) \[(.*)\] \**$", re.M)
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)

# The fake artifact production pins in these tests, and the pipeline's identity.
ARTIFACT_SHA256 = hashlib.sha256(b"stackguard test artifact 1.0.0").hexdigest()
PIPELINE = {"CI": "true", "GITHUB_RUN_ID": "4242", "GITHUB_REF": "refs/heads/main"}
# Variables of the caller that would change a run's verdict (CI, promotions, Ansible settings).
_SCRUBBED = re.compile(r"^(CI|CI_.*|GITHUB_.*|BUILD_ID|STACKGUARD_.*|ANSIBLE_.*|MOLECULE_.*|PYTHONPATH)$")


def _task_names(path):
    names = []
    for task in yaml.safe_load(path.read_text()) or []:
        names.append(task["name"])
        for inner in task.get("block", []):
            names.append(inner["name"])
    return names


def controller_tasks():
    """The preflight tasks that run on the controller only: main.yml's tasks (the host checks are
    the `hosts` entry point), and the tasks of the files they include."""
    names = set()
    for task in yaml.safe_load((ROLE_TASKS / "main.yml").read_text()):
        included = task.get("ansible.builtin.include_tasks")
        names.add(task["name"])
        if included:
            names.update(_task_names(ROLE_TASKS / included))
    return {f"preflight : {name}" for name in names}


CONTROLLER_TASKS = controller_tasks()


def host_tasks(stdout):
    """Play and task headers of a run that are not preflight's controller checks."""
    return [f"{kind} [{name}]" for kind, name in HEADER.findall(stdout)
            if not (kind == "PLAY" and name == PREFLIGHT_PLAY)
            and not (kind == "TASK" and (name in CONTROLLER_TASKS
                                         or name.startswith("preflight : Validating arguments against arg spec")))]


# Checkouts ------------------------------------------------------------------------------------

_FILES = None


def _working_tree_files():
    global _FILES
    if _FILES is None:
        listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "-co", "--exclude-standard"],
                                capture_output=True, check=True).stdout.decode().split("\0")
        _FILES = sorted({f for f in listed if f and (REPO / f).is_file()})
    return _FILES


def git(checkout, *args):
    return subprocess.run(["git", "-C", str(checkout), "-c", "user.name=stackguard tests",
                           "-c", "user.email=tests@example.invalid", *args],
                          capture_output=True, text=True, check=True).stdout


def make_checkout(dest, environments=(), edits=None, branch="main", uncommitted=None):
    """A committed copy of the working tree at ``dest``, with ``environments`` (``environment(...)``
    results) replacing inventories/<name>/ and ``edits`` ({relative path: text}) applied, on
    ``branch``; then ``uncommitted`` edits ({relative path: text}) left uncommitted."""
    dest = Path(dest)
    for relative in _working_tree_files():
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / relative, target)
    for env in environments:
        write_environment(dest / "inventories", env)
    for relative, text in (edits or {}).items():
        path = dest / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    subprocess.run(["git", "init", "-q", "-b", branch, str(dest)], check=True)
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "checkout for a preflight test")
    for relative, text in (uncommitted or {}).items():
        (dest / relative).write_text(text)
    return dest


def environment(name, network, hosts, *, stack=None, release=None, change_control="repo", all_vars=None,
                host_vars=None, container_prefix="sg-test-ghost-"):
    """A fake environment: ``hosts`` maps a host to its address; every host is in lb, web and db,
    reached with community.docker.docker at ``<container_prefix><host>``. ``change_control``:
    ``"repo"`` keeps the repository's inventories/<name>/group_vars/all/change_control.yml, None
    writes none, a mapping is written as the policy."""
    stack = stack or {"name": "php74-apache24", "revision": 1}
    release = release or {"version": "1.0.0",
                          "artifact": "https://artifacts.example.invalid/stackguard-app-1.0.0.tar.gz",
                          "sha256": ARTIFACT_SHA256}
    variables = {
        "stackguard_environment": name,
        "stackguard_stack": stack,
        "stackguard_networks": network if isinstance(network, list) else [network],
        "stackguard_app_release": release,
        "database_app_password": "not-a-secret-test-only",
        "ansible_connection": "community.docker.docker",
    }
    variables.update(all_vars or {})
    host_entries = {host: {"ansible_host": f"{container_prefix}{host}", "stackguard_address": address,
                           **(host_vars or {}).get(host, {})}
                    for host, address in hosts.items()}
    return {"name": name, "vars": variables, "hosts": host_entries, "change_control": change_control}


def write_environment(inventories, env):
    directory = Path(inventories) / env["name"]
    repo_policy = REPO / "inventories" / env["name"] / "group_vars" / "all" / "change_control.yml"
    policy_text = repo_policy.read_text() if env["change_control"] == "repo" and repo_policy.exists() else None
    if directory.exists():
        shutil.rmtree(directory)
    (directory / "group_vars" / "all").mkdir(parents=True)
    (directory / "hosts.yml").write_text("---\n" + yaml.safe_dump({"all": {"children": {
        "lb": {"hosts": env["hosts"]},
        "web": {"hosts": {host: None for host in env["hosts"]}},
        "db": {"hosts": {host: None for host in env["hosts"]}},
    }}}, sort_keys=False))
    (directory / "group_vars" / "all" / "vars.yml").write_text("---\n" + yaml.safe_dump(env["vars"], sort_keys=False))
    if isinstance(env["change_control"], dict):
        policy_text = "---\n" + yaml.safe_dump({"stackguard_change_control": env["change_control"]}, sort_keys=False)
    if policy_text is not None:
        (directory / "group_vars" / "all" / "change_control.yml").write_text(policy_text)
    return directory


# Runs -----------------------------------------------------------------------------------------

def run_env(checkout, extra=None):
    env = {k: v for k, v in os.environ.items() if not _SCRUBBED.match(k)}
    env.update(ANSIBLE_CONFIG=str(Path(checkout) / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_CALLBACK_RESULT_FORMAT="json", PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    env.update(extra or {})
    return env


def _result(proc_rc, stdout, stderr=""):
    fatal = FATAL.search(stdout)
    return {"rc": proc_rc, "stdout": stdout, "output": stdout + stderr,
            "msg": json.loads(fatal.group(2)).get("msg", "") if fatal else None,
            "recap": {m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)),
                                   "unreachable": int(m.group(4)), "failed": int(m.group(5))}
                      for m in RECAP.finditer(stdout)}}


def _playbook(checkout, playbook):
    """playbooks/<name> of the checkout, or a path relative to the checkout."""
    return Path(checkout) / (playbook if "/" in playbook else f"playbooks/{playbook}")


def run_playbook(checkout, playbook, *args, inventory=None, env=None, timeout=300):
    """Run playbooks/<playbook> (or <playbook> when it holds a /) of ``checkout`` against
    ``inventory`` (default: its inventories/staging), as an operator would from that checkout."""
    argv = [str(BIN / "ansible-playbook"), "-i", str(inventory or "inventories/staging"),
            str(_playbook(checkout, playbook)), *args]
    proc = subprocess.run(argv, cwd=checkout, env=run_env(checkout, env), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    return _result(proc.returncode, proc.stdout, proc.stderr)


def _controlling_terminal():
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def run_playbook_interactive(checkout, playbook, *args, inventory, answer, expect, env=None, timeout=300):
    """The same at a terminal (a pty): waits for ``expect`` in the output, types ``answer``."""
    argv = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(_playbook(checkout, playbook)), *args]
    master, slave = os.openpty()
    proc = subprocess.Popen(argv, cwd=checkout, env=run_env(checkout, env), stdin=slave, stdout=slave,
                            stderr=slave, preexec_fn=_controlling_terminal, close_fds=True)
    os.close(slave)
    output, answered, deadline = b"", False, time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the other end closed
                    break
                if not chunk:
                    break
                output += chunk
            if not answered and expect.encode() in output:
                time.sleep(0.5)  # the prompt has switched the terminal to raw mode by now
                os.write(master, answer.encode() + b"\r")
                answered = True
            if proc.poll() is not None and not ready:
                break
        rc = proc.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    text = output.decode(errors="replace").replace("\r\n", "\n")
    result = _result(rc, text)
    result["answered"] = answered
    return result
