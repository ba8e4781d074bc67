#!/usr/bin/python
DOCUMENTATION = r"""
module: release_state
short_description: Record what a web host deployed and which release is known good; prune old ones
description:
  - Keeps a JSON state file C({current, last_known_good, releases}), each release with its
    C(status) (C(deployed), C(good) or C(bad)), C(deployed_at), C(marked_at) and, when bad, the
    C(reason). Written atomically, and only when it changes.
  - C(deployed) makes the version current (a release once good stays good when deployed again);
    C(good) marks it good, last known good and current; C(bad) marks it bad with a reason, and when
    it was the last known good one, that falls back to the most recently deployed other good
    release still on disk (or null).
  - C(prune) deletes C(<root>/releases/<version>) directories beyond the newest C(keep) (by
    C(deployed_at); directories the state does not know count as oldest) and every C(*.partial)
    leftover. It never deletes the release C(current) points at nor the last known good one, and
    deletes nothing while C(current) cannot be read (the task fails; in check mode a missing
    C(current) is only reported, since on a new host the switch before it did not happen either).
    Pruned releases stay in the state with C(pruned_at). Run it under the deploy lock, since it
    removes C(*.partial) staging directories.
  - C(query) returns the state (and whether the file exists).
  - A state file that is not valid JSON (or not the expected shape) fails the task, naming the file.
  - In check mode reports what would change and writes or deletes nothing.
options:
  path:
    description: The state file.
    type: path
    default: /var/lib/stackguard/releases.json
  root:
    description:
      - The app root (C(releases/), C(current)). Required with C(action=prune).
      - With C(action=good), the releases are also pruned after the release is recorded good (a
        deploy's last step, in one call).
    type: path
  action:
    description: What to record or do.
    type: str
    choices: [query, deployed, good, bad, prune]
    default: query
  version:
    description: The release. Required with C(deployed), C(good) and C(bad).
    type: str
  reason:
    description: Why the release is bad. Required with C(action=bad).
    type: str
  keep:
    description: How many of the newest releases C(prune) keeps (besides current and last known good).
    type: int
    default: 5
  unlock:
    description:
      - After the state is recorded, release this run's deploy lock (see the deploy_lock module), so
        a deploy's last step is one call. Not in check mode.
    type: dict
    suboptions:
      path:
        description: The lock file.
        type: path
        required: true
      run_id:
        description: The run that holds it; another run's lock is not released (the task fails).
        type: str
        required: true
"""

EXAMPLES = r"""
- name: Record the release as deployed
  release_state:
    action: deployed
    version: "1.2.0"

- name: Mark it good once /healthz reports it
  release_state:
    action: good
    version: "1.2.0"

- name: Mark it bad
  release_state:
    action: bad
    version: "1.2.0"
    reason: "healthz: schema behind: version 1, expected 2"

- name: Mark it good, prune, and release this run's deploy lock, in one call
  release_state:
    action: good
    version: "1.2.0"
    root: /srv/stackguard-app
    unlock: {path: /var/lib/stackguard/deploy.lock, run_id: "{{ deploy_lock_run.run_id }}"}

- name: Delete old releases, keeping the newest 5
  release_state:
    action: prune
    root: /srv/stackguard-app
"""

RETURN = r"""
state:
  description: The state after the task (in check mode, as it would be).
  type: dict
  returned: always
  sample: {current: 1.1.0, last_known_good: 1.0.0,
           releases: {1.0.0: {status: good, deployed_at: "2024-05-01T12:00:00.000000Z",
                              marked_at: "2024-05-01T12:00:31.000000Z"}}}
exists:
  description: Whether the state file exists (after the task).
  type: bool
  returned: always
removed:
  description: Directory names removed from C(releases/) by prune (would be, in check mode).
  type: list
  elements: str
  returned: always
  sample: [0.9.0, 1.3.0.partial]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.deploy_lock import LockError, release as release_lock
from ansible.module_utils.release_state import StateError, run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", default="/var/lib/stackguard/releases.json"),
            root=dict(type="path"),
            action=dict(type="str", choices=["query", "deployed", "good", "bad", "prune"],
                        default="query"),
            version=dict(type="str"),
            reason=dict(type="str"),
            keep=dict(type="int", default=5),
            unlock=dict(type="dict", options=dict(path=dict(type="path", required=True),
                                                  run_id=dict(type="str", required=True))),
        ),
        required_if=[
            ("action", "deployed", ("version",)),
            ("action", "good", ("version",)),
            ("action", "bad", ("version", "reason")),
            ("action", "prune", ("root",)),
        ],
        supports_check_mode=True,
    )
    params = module.params
    try:
        result = run(params["path"], params["action"], params["version"], params["reason"],
                     params["root"], params["keep"], module.check_mode)
    except StateError as exc:
        module.fail_json(msg=str(exc), changed=False)
    except OSError as exc:
        module.fail_json(msg=f"release state {params['path']}: {exc}", changed=False)
    if params["unlock"] and not module.check_mode:
        try:
            release_lock(params["unlock"]["path"], params["unlock"]["run_id"])
        except (LockError, OSError) as exc:
            module.fail_json(msg=f"recorded {params['action']} {params['version'] or ''}, but the deploy "
                                 f"lock {params['unlock']['path']} was not released: {exc}", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
