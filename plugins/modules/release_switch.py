#!/usr/bin/python
DOCUMENTATION = r"""
module: release_switch
short_description: Switch a web host to a staged release, reload, and wait until it is healthy
description:
  - In one call - check that C(<root>/releases/<version>/release.json) names the version, point
    C(<root>/current) at C(releases/<version>) with one atomic rename (a C(current.next) symlink
    renamed onto C(current), so there is never a moment without C(current)), run the reload
    command, and poll the health URL until it answers HTTP 200 with C(status=ok), C(release) the
    version and C(schema.current) true.
  - When C(current) already points at the release, nothing is switched or reloaded, but the
    health check still runs.
  - When the release does not become healthy in time (or the reload fails), with
    C(on_failure=restore) C(current) is pointed back at its previous target the same atomic way,
    the reload runs again and the previous release must become healthy; the task fails either way,
    naming the reason (the last HTTP status and the body's C(reason), or the connection error).
    With C(on_failure=keep) it fails without restoring.
  - Refuses, changing nothing, when the release is not staged or its C(release.json) names another
    version, or when C(current) exists but is not a symlink.
  - In check mode reports whether it would switch; touches nothing, reloads nothing and does not
    poll the health URL. A release that is not staged yet is reported (with C(msg)) rather than
    refused, since in check mode the staging before this task did not happen either; a
    C(release.json) naming another version is refused in check mode too.
options:
  root:
    description: The app root, holding C(releases/) and C(current).
    type: path
    required: true
  version:
    description: The release to switch to (a directory name under C(releases/)).
    type: str
    required: true
  reload_command:
    description:
      - Run after each switch (argv, no shell). A graceful restart makes mod_php's new children
        load the new code and drops the opcache and realpath caches.
      - The default, C(apache2ctl -k graceful), reads the configuration once; C(apache2ctl graceful)
        reads it twice (a C(-t) test first) for the same refusal, since C(apache2 -k graceful)
        also parses the configuration before it signals Apache and exits non-zero, signalling
        nothing, on a syntax error.
    type: list
    elements: str
    default: [apache2ctl, -k, graceful]
  health_url:
    description: Polled (GET, no proxy) until it reports the release healthy.
    type: str
    default: http://127.0.0.1/healthz
  health_timeout:
    description: Seconds to wait for the release (and, on restore, for the previous one).
    type: float
    default: 20
  health_interval:
    description: Seconds between two polls.
    type: float
    default: 0.2
  health_failures:
    description:
      - Give up after this many unhealthy HTTP answers in a row that do not come from another
        release (a verdict, unlike no answer while Apache reloads); 0 waits for the whole
        C(health_timeout).
    type: int
    default: 5
  on_failure:
    description: C(restore) the previous target of C(current), or C(keep) the new release in place.
    type: str
    choices: [restore, keep]
    default: restore
  link:
    description:
      - The symlink under O(root) to switch. C(current) is what the live site serves; the deploy's
        candidate check switches C(preview), which only a local-only preview site serves.
    type: str
    default: current
  smoke_urls:
    description:
      - Paths that must also answer HTTP 200 on the health URL's server once it reports the
        release healthy (a failing one fails the switch like an unhealthy release).
    type: list
    elements: str
    default: []
  agent_dir:
    description:
      - The lb agent's directory (roles/lb_agent). When set, a host that changes release writes
        C(drain) there and waits until every load balancer in O(agent_pollers) has applied it before
        C(current) moves, and writes C(ready) (and waits again) once the host answers healthy.
        The whole drain, switch, health check and re-enable is this one call, on the host.
      - A host whose restored release is unhealthy too stays drained.
    type: path
  agent_pollers:
    description:
      - The addresses the load balancers poll the agent from (their C(stackguard_address)); only
        their checks count. Empty switches without draining.
    type: list
    elements: str
    default: []
  agent_timeout:
    description: Seconds to wait for the load balancers to read each word.
    type: float
    default: 5
  state_file:
    description:
      - The host's release record (see the release_state module). When set, a switch that ends
        healthy records O(record) for the release; a switch that fails and restores the previous
        release marks the release C(bad) with the reason, and the restored one C(good).
    type: path
  record:
    description: What a healthy switch records in O(state_file).
    type: str
    choices: [deployed, good]
    default: deployed
  unlock:
    description: After a healthy switch, release this run's deploy lock (see the deploy_lock module).
    type: dict
    suboptions:
      path:
        description: The lock file.
        type: path
        required: true
      run_id:
        description: This run's id; another run's lock is never released.
        type: str
        required: true
  log_file:
    description:
      - The host's deployment log. When set, every call that is not a check appends one JSON line
        there - C(time), C(host), C(action), C(from), C(to), C(current), C(result) (C(switched),
        C(unchanged), C(refused), C(restored) or C(failed)), C(reason), C(elapsed) and C(who) - with
        one write on a file opened with C(O_APPEND), created 0640 (its directory 0750).
      - A log that cannot be written is a warning (RV(log_error)); it never fails the switch.
    type: path
  action:
    description: What the switch is for, as the deployment log records it.
    type: str
    choices: [deploy, rollback, automatic_rollback]
    default: deploy
  who:
    description: Who runs the switch, as the deployment log records it (never a secret).
    type: dict
    default: {}
    suboptions:
      user:
        description: The user running the playbook on the controller.
        type: str
      controller:
        description: The controller's host name.
        type: str
      ci_run_id:
        description: The CI pipeline's run id, when run from one.
        type: str
      commit:
        description: The checkout commit the run comes from.
        type: str
      change_ticket:
        description: The change ticket of the run, when there is one.
        type: str
"""

EXAMPLES = r"""
- name: Switch to the release and wait for /healthz
  release_switch:
    root: /srv/stackguard-app
    version: "1.2.0"
    health_timeout: 30

- name: Drain through the lb agent, switch, health-check, re-enable, record and unlock, in one call
  release_switch:
    root: /srv/stackguard-app
    version: "1.1.0"
    agent_dir: /run/stackguard/lb-agent
    agent_pollers: "{{ groups['lb'] | map('extract', hostvars, 'stackguard_address') | list }}"
    state_file: /var/lib/stackguard/releases.json
    record: good
    unlock: {path: /var/lib/stackguard/deploy.lock, run_id: "{{ run.run_id }}"}

- name: Candidate check - serve the staged release on the local-only preview site, and check it
  release_switch:
    root: /srv/stackguard-app
    version: "1.2.0"
    link: preview
    health_url: http://127.0.0.1:8081/healthz
    smoke_urls: [/healthz, /]
    on_failure: keep

- name: Switch, and record who did it in the host's deployment log
  release_switch:
    root: /srv/stackguard-app
    version: "1.2.0"
    log_file: /var/log/stackguard/deployments.jsonl
    action: deploy
    who: {user: deploy, controller: ci-runner-3, ci_run_id: "4711", commit: 3f2c9e1}

- name: Switch, and keep the new release in place for inspection when it is unhealthy
  release_switch:
    root: /srv/stackguard-app
    version: "1.2.0"
    on_failure: keep
"""

RETURN = r"""
previous:
  description: The release C(current) pointed at before (its target as is, when not under releases/).
  type: str
  returned: always
  sample: 1.1.0
current:
  description: The release C(current) points at after the call (the previous one once restored).
  type: str
  returned: always
  sample: 1.2.0
switched:
  description: Whether C(current) was (in check mode, would be) pointed at the release.
  type: bool
  returned: always
health:
  description: The last JSON body the release's health URL answered, or null.
  type: dict
  returned: always
  sample: {status: ok, release: 1.2.0, php: 7.4.33, db: {reachable: true},
           schema: {version: 2, expected: 2, current: true}}
restored_health:
  description: The last JSON body the health URL answered for the previous release after a restore.
  type: dict
  returned: when restored
elapsed:
  description: Seconds the call took.
  type: float
  returned: always
restored:
  description: Whether C(current) was pointed back at the previous release.
  type: bool
  returned: always
drained_by:
  description: The load balancer addresses that read C(drain) from the agent before the switch.
  type: list
  elements: str
  returned: when the host left the load balancer
state:
  description: The release record after the call (see the release_state module).
  type: dict
  returned: when state_file is set and the record was written
log_error:
  description: Why the deployment log line could not be written.
  type: str
  returned: when log_file is set and writing it failed
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.deploy_lock import LockError, release as release_lock
from ansible.module_utils.lb_agent import Agent
from ansible.module_utils.release_state import StateError, run as record_state
from ansible.module_utils.release_switch import (
    ACTIONS, WHO_FIELDS, SwitchError, deployment_entry, http_probe, log_deployment, previous_version,
    read_current, resolve_command, switch)


def _log(module, result, error=None):
    """Append this call's line to the deployment log (not in check mode); a failure to write it is
    a warning in the result, never a failed switch."""
    params = module.params
    if not params["log_file"] or module.check_mode:
        return
    if "previous" not in result:  # refused before looking at current
        try:
            result["previous"] = previous_version(params["root"], read_current(params["root"], params["link"]))
            result.setdefault("current", result["previous"])
        except (SwitchError, OSError):
            pass
    entry = deployment_entry(params["action"], params["version"], result, error, params["who"])
    try:
        log_deployment(params["log_file"], entry)
    except OSError as exc:
        result["log_error"] = f"could not append to {params['log_file']}: {exc}"
        module.warn(result["log_error"])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type="path", required=True),
            version=dict(type="str", required=True),
            reload_command=dict(type="list", elements="str", default=["apache2ctl", "-k", "graceful"]),
            health_url=dict(type="str", default="http://127.0.0.1/healthz"),
            health_timeout=dict(type="float", default=20.0),
            health_interval=dict(type="float", default=0.2),
            health_failures=dict(type="int", default=5),
            on_failure=dict(type="str", choices=["restore", "keep"], default="restore"),
            link=dict(type="str", default="current"),
            smoke_urls=dict(type="list", elements="str", default=[]),
            agent_dir=dict(type="path"),
            agent_pollers=dict(type="list", elements="str", default=[]),
            agent_timeout=dict(type="float", default=5.0),
            state_file=dict(type="path"),
            record=dict(type="str", choices=["deployed", "good"], default="deployed"),
            unlock=dict(type="dict", options=dict(path=dict(type="path", required=True),
                                                  run_id=dict(type="str", required=True))),
            log_file=dict(type="path"),
            action=dict(type="str", choices=list(ACTIONS), default="deploy"),
            who=dict(type="dict", default={}, options={name: dict(type="str") for name in WHO_FIELDS}),
        ),
        supports_check_mode=True,
    )
    params = module.params
    reload_command = params["reload_command"]
    try:
        argv = resolve_command(reload_command, module.get_bin_path)
    except ValueError as exc:
        if not module.check_mode:
            refused = {"changed": False}
            _log(module, refused, f"{exc}; nothing changed")
            module.fail_json(msg=f"{exc}; nothing changed", **refused)
        argv = reload_command  # check mode reloads nothing: the host may not have it yet

    def reload():
        return module.run_command(argv, environ_update={"LC_ALL": "C"})

    balancer = None
    if params["agent_dir"] and params["agent_pollers"]:
        balancer = Agent(params["agent_dir"], params["agent_pollers"], params["agent_timeout"])

    def record(action, version, reason=None):
        if not params["state_file"] or module.check_mode:
            return None
        return record_state(params["state_file"], action, version, reason)

    try:
        result = switch(params["root"], params["version"], reload, http_probe,
                        reload_command=reload_command, health_url=params["health_url"],
                        health_timeout=params["health_timeout"],
                        health_interval=params["health_interval"],
                        health_failures=params["health_failures"],
                        on_failure=params["on_failure"], check_mode=module.check_mode,
                        balancer=balancer, link=params["link"],
                        smoke_urls=params["smoke_urls"])
    except SwitchError as exc:
        failed = {"changed": False, **exc.result}
        try:
            if failed.get("restored") and params["state_file"] and not module.check_mode:
                record("bad", params["version"], str(exc)[:300])
                failed["state"] = record("good", failed["current"])["state"]
        except (StateError, OSError) as record_exc:
            failed["state_error"] = str(record_exc)
        _log(module, failed, exc)
        module.fail_json(msg=str(exc), **failed)
    try:
        recorded = record(params["record"], params["version"])
        if recorded is not None:
            result.update(state=recorded["state"], changed=result["changed"] or recorded["changed"])
        if params["unlock"] and not module.check_mode:
            release_lock(params["unlock"]["path"], params["unlock"]["run_id"])
    except (StateError, LockError, OSError) as exc:
        _log(module, result)  # the switch itself succeeded
        module.fail_json(msg=f"switched to {params['version']} (healthy), but: {exc}",
                         **{**result, "changed": True})
    _log(module, result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
