#!/usr/bin/python
DOCUMENTATION = r"""
module: rollback_plan
short_description: Take the deploy lock, choose the release to roll back to and check it, in one call
description:
  - On a web host, before any host changes, in one round trip - take this run's deploy lock (see
    the deploy_lock module), choose the release (O(rollback_to), else the last known-good release
    when the host does not serve it already, else the newest good release deployed before the
    current one), and refuse it when there is none, when it is marked bad, when it is gone from
    the host, or when the host's PHP and extensions cannot run it (the release's composer.json
    against facts gathered on the host, the same check as the release_compat action).
  - A refusal releases the lock it took and changes nothing else.
  - Read-only apart from the lock; in check mode the lock is not written either.
  - See C(plugins/module_utils/rollback_plan.py).
options:
  root:
    description: The app root, holding C(releases/) and C(current).
    type: path
    required: true
  state_file:
    description: The host's release record (see the release_state module).
    type: path
    required: true
  rollback_to:
    description: The release to roll back to; empty chooses as described above.
    type: str
    default: ""
  label:
    description: How the host is named in messages (e.g. its inventory name); its host name when unset.
    type: str
  lock:
    description: This run's deploy lock, as the deploy_lock module takes it with C(state=present).
    type: dict
    required: true
    suboptions:
      path:
        description: The lock file.
        type: path
        default: /var/lib/stackguard/deploy.lock
      owner:
        description: Who runs (user@controller).
        type: str
        required: true
      run_id:
        description: This run's id.
        type: str
        required: true
      controller_host:
        description: The controller's host name.
        type: str
      controller_pid:
        description: The ansible-playbook process id.
        type: int
      ttl:
        description: Seconds before another controller may take the lock over.
        type: int
        default: 1800
      force:
        description: Take the lock whoever holds it.
        type: bool
        default: false
      live_runs:
        description: Run ids alive on the controller (a dead run's lock here is taken over).
        type: list
        elements: str
"""

EXAMPLES = r"""
- name: Lock, choose and check the release to roll back to
  rollback_plan:
    root: /srv/stackguard-app
    state_file: /var/lib/stackguard/releases.json
    rollback_to: "{{ rollback_to | default('') }}"
    lock:
      owner: "{{ run.user }}@{{ run.host }}"
      run_id: "{{ run.run_id }}"
      controller_host: "{{ run.host }}"
      live_runs: "{{ run.live_runs }}"
  register: plan
"""

RETURN = r"""
target:
  description: The release to roll back to.
  type: str
  returned: success, and refusals that got as far as choosing
  sample: 1.1.0
current:
  description: The release the host serves now, by its record.
  type: str
  returned: success
compat:
  description: The compatibility check's summary.
  type: str
  returned: success
unmet:
  description: The release's requirements this host does not meet.
  type: list
  elements: dict
  returned: when refused as incompatible
lock:
  description: The deploy lock after the call (the deploy_lock module's result).
  type: dict
  returned: always
"""

import socket

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.deploy_lock import LockError, acquire, release
from ansible.module_utils.release_state import StateError
from ansible.module_utils.rollback_plan import PlanError, plan
from ansible.module_utils.stack_module import gatherer

LOCK_OPTIONS = dict(
    path=dict(type="path", default="/var/lib/stackguard/deploy.lock"),
    owner=dict(type="str", required=True),
    run_id=dict(type="str", required=True),
    controller_host=dict(type="str"),
    controller_pid=dict(type="int"),
    ttl=dict(type="int", default=1800),
    force=dict(type="bool", default=False),
    live_runs=dict(type="list", elements="str"),
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type="path", required=True),
            state_file=dict(type="path", required=True),
            rollback_to=dict(type="str", default=""),
            label=dict(type="str"),
            lock=dict(type="dict", required=True, options=LOCK_OPTIONS),
        ),
        supports_check_mode=True,
    )
    params, lock = module.params, module.params["lock"]
    host = params["label"] or socket.gethostname()
    try:
        taken = acquire(lock["path"], lock["owner"], lock["run_id"], lock["controller_host"],
                        lock["controller_pid"], lock["ttl"], lock["force"], module.check_mode,
                        live_runs=lock["live_runs"])
    except LockError as exc:
        module.fail_json(msg=str(exc), changed=False, lock=exc.result)
    except OSError as exc:
        module.fail_json(msg=f"deploy lock {lock['path']}: {exc}", changed=False, lock={})
    try:
        result = plan(params["root"], params["state_file"], params["rollback_to"],
                      lambda: gatherer(module).gather(runtimes=("php",), holds=False), host)
    except (PlanError, StateError, OSError) as exc:
        if not module.check_mode and taken["changed"]:
            release(lock["path"], lock["run_id"])
        module.fail_json(msg=str(exc), changed=False, lock=taken, **getattr(exc, "result", {}))
    # The lock is this run's own bookkeeping, not state the run manages: not a change.
    module.exit_json(changed=False, lock=taken, **result)


if __name__ == "__main__":
    main()
