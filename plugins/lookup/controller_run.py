DOCUMENTATION = r"""
name: controller_run
short_description: Identify this ansible-playbook run on the controller, and the runs alive on it
description:
  - Without options, returns who runs this playbook and where - user, controller host name, the
    process id of the C(ansible-playbook) process (not of a worker), and a run id
    C(<host>-<pid>-<start ticks>) - for deploy locks and audit records.
  - C(live_runs) lists the run ids of every C(ansible-playbook) process running on this
    controller now. A run id holds the process start time (a pid alone is reused), so a lock left by
    a run that died here is one whose id is not in the list (the deploy_lock module takes it over).
"""

EXAMPLES = r"""
- name: Identify this run
  ansible.builtin.set_fact:
    run: "{{ lookup('controller_run') }}"
"""

RETURN = r"""
_raw:
  description: >-
    {user, host, pid, run_id, ci_run_id, live_runs} (ci_run_id is the pipeline's run id or null;
    live_runs the run ids of every ansible-playbook process running on this controller now, so a
    deploy lock left by a run that died here can be taken over in the same call that takes it).
  type: list
  elements: raw
"""

import getpass
import os
import socket

from ansible.plugins.lookup import LookupBase

CI_RUN_ID_VARIABLES = ("GITHUB_RUN_ID", "CI_PIPELINE_ID", "BUILD_ID", "STACKGUARD_CI_RUN_ID")


def _stat_fields(pid):
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
        # The command name (field 2) may hold spaces; the fields after it follow its closing paren.
        return handle.read().rsplit(")", 1)[1].split()


def _parent(pid):
    return int(_stat_fields(pid)[1])


def start_ticks(pid):
    """When the process started, in clock ticks since boot (field 22): stable for its lifetime."""
    try:
        return int(_stat_fields(pid)[19])
    except (OSError, IndexError, ValueError):
        return None


def _command(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        return handle.read().replace(b"\0", b" ").decode(errors="replace")


def playbook_pid():
    """The outermost ansible-playbook process above this one (workers are its forks)."""
    pid, found = os.getpid(), os.getpid()
    try:
        while pid > 1:
            if "ansible-playbook" in _command(pid):
                found = pid
            pid = _parent(pid)
    except OSError:
        pass  # no /proc: this process is the best answer
    return found


def run_id(host, pid):
    return f"{host}-{pid}-{start_ticks(pid)}"


def live_runs(host):
    """The run ids of every ansible-playbook process running on this host now (workers too)."""
    runs = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if "ansible-playbook" in _command(int(entry)):
                runs.append(run_id(host, int(entry)))
        except OSError:
            continue  # gone meanwhile
    return sorted(runs)


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        host = socket.gethostname()
        pid = playbook_pid()
        ci_run_id = next((os.environ[v] for v in CI_RUN_ID_VARIABLES if os.environ.get(v)), None)
        return [{"user": getpass.getuser(), "host": host, "pid": pid, "run_id": run_id(host, pid),
                 "ci_run_id": ci_run_id, "live_runs": live_runs(host)}]
