DOCUMENTATION = r"""
name: controller_run
short_description: Identify this ansible-playbook run on the controller
description:
  - Returns who runs this playbook and where - user, controller host name, the process id of the
    C(ansible-playbook) process (not of a worker), and a run id - for deploy locks and audit
    records.
  - The process id lets a later run on the same controller tell a lock left by a run that died
    from one held by a run still going.
options: {}
"""

EXAMPLES = r"""
- name: Identify this run
  ansible.builtin.set_fact:
    run: "{{ lookup('controller_run') }}"
"""

RETURN = r"""
_raw:
  description: "{user, host, pid, run_id, ci_run_id}; ci_run_id is the pipeline's run id or null."
  type: list
  elements: dict
"""

import getpass
import os
import socket

from ansible.plugins.lookup import LookupBase

CI_RUN_ID_VARIABLES = ("GITHUB_RUN_ID", "CI_PIPELINE_ID", "BUILD_ID", "STACKGUARD_CI_RUN_ID")


def _parent(pid):
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
        # The command name (field 2) may hold spaces; the parent pid follows its closing paren.
        return int(handle.read().rsplit(")", 1)[1].split()[1])


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


def started(pid):
    """When the process started (seconds since the epoch): a pid alone is reused over time."""
    try:
        return int(os.stat(f"/proc/{pid}").st_ctime)
    except OSError:
        return 0


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        pid, host = playbook_pid(), socket.gethostname()
        ci_run_id = next((os.environ[v] for v in CI_RUN_ID_VARIABLES if os.environ.get(v)), None)
        return [{"user": getpass.getuser(), "host": host, "pid": pid,
                 "run_id": f"{host}-{pid}-{started(pid)}",
                 "ci_run_id": ci_run_id}]
