#!/usr/bin/python
DOCUMENTATION = r"""
module: deploy_lock
short_description: Take, release or look at a host's deploy lock
description:
  - The lock is a JSON file C({owner, run_id, controller_host, controller_pid, acquired_at,
    expires_at}) (times in ISO 8601 UTC), mode 0644, its directory created 0755.
  - C(state=present) creates it atomically and exclusively (a private O_EXCL temporary file
    linked to the lock's name, under an flock on its directory), so of two runs acquiring at once
    exactly one wins. The same C(run_id) holding it is ok and unchanged; another run's lock is
    taken over when it has expired (C(took_over=expired)) or with C(force) (C(took_over=forced));
    otherwise the task fails naming the holder.
  - C(state=absent) removes the lock when C(run_id) holds it (any lock with C(force)); it never
    releases another run's lock. No lock is ok.
  - C(state=query) returns the holder (or null) and changes nothing.
  - A lock file that is not a JSON object is held by C(unknown), reported, and cleared by C(force).
  - In check mode reports what it would do and writes nothing.
options:
  path:
    description: The lock file.
    type: path
    default: /var/lib/stackguard/deploy.lock
  state:
    description: Take (C(present)), release (C(absent)) or report (C(query)) the lock.
    type: str
    choices: [present, absent, query]
    default: present
  owner:
    description: Who deploys, e.g. C(alice@laptop). Required with C(state=present).
    type: str
  run_id:
    description: Unique per ansible-playbook run. Required with C(state=present), and with
      C(state=absent) unless C(force).
    type: str
  controller_host:
    description: The host ansible-playbook runs on.
    type: str
  controller_pid:
    description: The ansible-playbook process id.
    type: int
  ttl:
    description: Seconds the lock holds; after that another run may take it over.
    type: int
    default: 1800
  force:
    description: Take over (present) or remove (absent) another run's lock, or a corrupt one.
    type: bool
    default: false
  live_runs:
    description:
      - With C(state=present), the run ids of every run alive on this controller now (the
        C(controller_run) lookup's C(live_runs)). A lock taken from the same O(controller_host) by
        a run not in this list died there, and is taken over (C(took_over=dead)) in this call.
      - Omitted, such a lock is only taken over when it expires or with O(force).
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Take the deploy lock
  deploy_lock:
    owner: alice@laptop
    run_id: "{{ stackguard_run_id }}"
    controller_host: laptop
    controller_pid: 4242
    force: "{{ force_unlock | default(false) | bool }}"

- name: Release it
  deploy_lock:
    state: absent
    run_id: "{{ stackguard_run_id }}"

- name: Who deploys?
  deploy_lock:
    state: query
  register: lock
"""

RETURN = r"""
holder:
  description:
    - The lock's content after the task (in check mode, as it would be); null when there is none.
    - When the task fails because another run holds the lock, that run's lock.
    - "A corrupt lock is C({owner: unknown, corrupt: true, content})."
  type: dict
  returned: always
  sample: {owner: alice@laptop, run_id: 20240501T123456-4242, controller_host: laptop,
           controller_pid: 4242, acquired_at: "2024-05-01T12:34:56Z", expires_at: "2024-05-01T13:04:56Z"}
took_over:
  description: C(expired), C(dead) or C(forced) when another run's lock was replaced (or removed); else null.
  type: str
  returned: always
previous_holder:
  description: The lock that was replaced or removed.
  type: dict
  returned: when a lock was replaced or removed
expired:
  description: With C(state=query), whether the lock has expired (null without a lock).
  type: bool
  returned: when state is query
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.deploy_lock import LockError, acquire, query, release


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", default="/var/lib/stackguard/deploy.lock"),
            state=dict(type="str", choices=["present", "absent", "query"], default="present"),
            owner=dict(type="str"),
            run_id=dict(type="str"),
            controller_host=dict(type="str"),
            controller_pid=dict(type="int"),
            ttl=dict(type="int", default=1800),
            force=dict(type="bool", default=False),
            live_runs=dict(type="list", elements="str"),
        ),
        required_if=[("state", "present", ("owner", "run_id"))],
        supports_check_mode=True,
    )
    params = module.params
    try:
        if params["state"] == "present":
            result = acquire(params["path"], params["owner"], params["run_id"],
                             params["controller_host"], params["controller_pid"], params["ttl"],
                             params["force"], module.check_mode, live_runs=params["live_runs"])
        elif params["state"] == "absent":
            result = release(params["path"], params["run_id"], params["force"], module.check_mode)
        else:
            result = query(params["path"])
    except LockError as exc:
        module.fail_json(msg=str(exc), **{"changed": False, "holder": None, "took_over": None,
                                          **exc.result})
    except OSError as exc:
        module.fail_json(msg=f"deploy lock {params['path']}: {exc}", changed=False)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
