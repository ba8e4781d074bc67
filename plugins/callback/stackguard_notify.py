DOCUMENTATION = r"""
name: stackguard_notify
type: notification
short_description: Post a deploy or rollback run's outcome to the environment's webhooks
description:
  - When a deploy or rollback playbook ends, sends one event - deployed, refused, failed and
    rolled back by itself, failed, or rolled back - to each webhook of the C(stackguard_webhooks)
    variable (a list of C({url, style}); C(slack) bodies suit Slack- and Mattermost-style incoming
    webhooks, C(generic) is the event as JSON), with the environment, the release, each switched
    host's from/to release and result, the failed hosts and the first failure's reason, and who
    ran it (user, controller host, CI run id, checkout commit, change ticket).
  - Only a run of a playbook named in O(playbooks) notifies (its file name without the extension
    is the event's kind), so a C(site.yml) converge that imports C(deploy.yml) does not. A check
    mode run never notifies, and neither does a run interrupted before its recap.
  - Adds no task and no round trip to the run - it watches the C(release_switch) results and the
    failures as they come, and posts from the controller after the recap is known.
  - A webhook that is down, slow (O(timeout)) or answers an error is printed as a warning; the
    run's exit code never changes. Webhook URLs are masked when printed.
  - No secret reaches a message - the variables read are C(stackguard_webhooks),
    C(stackguard_environment), C(stackguard_app_release.version), C(preflight_commit),
    C(preflight_change_ticket_confirmed) and C(change_ticket); keys matching C(password),
    C(secret), C(token), C(key) or C(vault) are dropped, and a failure message from a C(no_log)
    task is replaced. See C(plugins/module_utils/notify.py) for the event and the bodies.
requirements:
  - enable in configuration, e.g. C(callbacks_enabled = stackguard_audit, stackguard_notify)
options:
  playbooks:
    description: File names of the playbooks whose runs notify; the name without extension is the kind.
    type: list
    elements: str
    default: [deploy.yml, rollback.yml]
    env:
      - name: STACKGUARD_NOTIFY_PLAYBOOKS
    ini:
      - section: callback_stackguard_notify
        key: playbooks
  timeout:
    description: Seconds to wait for each webhook.
    type: float
    default: 5
    env:
      - name: STACKGUARD_NOTIFY_TIMEOUT
    ini:
      - section: callback_stackguard_notify
        key: timeout
"""

import getpass
import os
import socket

import ansible.module_utils
from ansible import context
from ansible.plugins.callback import CallbackBase

# Controller-side plugins do not see the repo's module_utils path the way modules do; add it so
# the one shared library is imported under its usual name.
_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.audit import (  # noqa: E402
    ci_run_id, git_state, play_reader, release_version, run_identity, text_or_none)
from ansible.module_utils.notify import RUN_KINDS, send_all, run_event  # noqa: E402

HIDDEN = "the failed task's output is hidden (no_log)"


def _user():
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry, no LOGNAME: still notify
        return None


def _delegated_address(result):
    """The address a delegated call ran on (callbacks see its ansible_host, not its name)."""
    return (result._result.get("_ansible_delegated_vars") or {}).get("ansible_host")


def _is_switch(result):
    action = getattr(result._task, "resolved_action", None) or result._task.action or ""
    return action.rsplit(".", 1)[-1] == "release_switch"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "stackguard_notify"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None, options=None):
        super().__init__(display=display, options=options)
        self._kind = None
        self._playbook = None
        self._git = None
        self._play = None
        self._switches = []
        self._failures = []
        self._addresses = {}

    def v2_playbook_on_start(self, playbook):
        path = os.path.abspath(getattr(playbook, "_file_name", "") or "")
        name = os.path.basename(path)
        kind = os.path.splitext(name)[0]
        if context.CLIARGS.get("check") or name not in (self.get_option("playbooks") or []):
            return
        if kind not in RUN_KINDS:
            self._display.warning(f"stackguard_notify: {name} is listed in playbooks, but only "
                                  f"{' and '.join(RUN_KINDS)} runs have an event; not notifying")
            return
        self._kind, self._playbook = kind, name
        self._git = git_state(os.path.dirname(path) or os.getcwd())

    def v2_playbook_on_play_start(self, play):
        self._play = play

    def _host(self, result):
        """The inventory name of the host a result is about: for a delegated call (the automatic
        rollback switches earlier batches' hosts from the failing host) the host whose name or
        ansible_host it ran on, since callbacks are only told the latter."""
        address = _delegated_address(result)
        if not address:
            return result._host.get_name()
        if address not in self._addresses:
            self._addresses[address] = self._name_of(address)
        return self._addresses[address]

    def _name_of(self, address):
        try:
            manager = self._play.get_variable_manager()
            inventory = manager._inventory
            if inventory.get_host(address) is not None:
                return address
            from ansible.template import Templar

            for host in inventory.get_hosts("all", ignore_restrictions=True):
                variables = manager.get_vars(play=self._play, host=host, include_hostvars=False)
                value = variables.get("ansible_host", host.address)
                if Templar(loader=manager._loader, variables=variables).template(value) == address:
                    return host.get_name()
        except Exception:  # attributed to the address, rather than failing the notification
            pass
        return str(address)

    # Watching

    def _switch(self, result, failed):
        if not _is_switch(result):
            return
        items = result._result.get("results")
        # a loop: each item (a loop delegating each item elsewhere is attributed to the host)
        for found in items if isinstance(items, list) else [result._result]:
            if not isinstance(found, dict) or found.get("skipped"):
                continue
            args = (found.get("invocation") or {}).get("module_args") or {}
            self._switches.append({
                "host": self._host(result), "version": args.get("version"),
                "previous": found.get("previous"), "current": found.get("current"),
                "switched": bool(found.get("switched")), "restored": bool(found.get("restored")),
                "failed": failed if found is result._result else bool(found.get("failed"))})

    def _failure(self, result, what="failed"):
        found = result._result
        msg = HIDDEN if found.get("_ansible_no_log") else (found.get("msg") or what)
        self._failures.append({"host": self._host(result), "task": result._task.get_name(), "msg": str(msg)})

    def v2_runner_on_ok(self, result):
        if self._kind:
            self._switch(result, failed=False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not self._kind:
            return
        self._switch(result, failed=not ignore_errors)
        if not ignore_errors:
            self._failure(result)

    def v2_runner_on_unreachable(self, result):
        if self._kind and not getattr(result._task, "ignore_unreachable", False):
            self._failure(result, "unreachable")

    # Sending

    def v2_playbook_on_stats(self, stats):
        if not self._kind or self._play is None:
            return
        try:
            self._notify(stats)
        except Exception as error:  # a notification must never fail the run
            self._display.warning(f"stackguard_notify: could not notify the {self._kind}: {error}")

    def _notify(self, stats):
        value = play_reader(self._play)
        webhooks = value("stackguard_webhooks") or []
        if not webhooks:
            return
        if not isinstance(webhooks, list):
            self._display.warning("stackguard_notify: stackguard_webhooks must be a list of {url, style}; "
                                  "not notifying")
            return
        failed_hosts = {h for h in stats.processed if stats.failures.get(h) or stats.dark.get(h)}
        failures = self._failures
        if failed_hosts and not failures:  # a failure the callbacks did not see (e.g. any_errors_fatal)
            failures = [{"host": h, "task": None, "msg": "failed"} for h in sorted(failed_hosts)]
        elif not failed_hosts:
            failures = []  # every failure seen was rescued (and the rescue succeeded)
        identity = run_identity(value, self._git)
        environment = text_or_none(value("stackguard_environment"))
        event = run_event(
            self._kind, environment=environment,
            release=release_version({"version": value("stackguard_app_release", "version")}),
            switches=self._switches, failures=failures, playbook=self._playbook,
            who={"user": _user(), "controller_host": socket.gethostname(),
                 "ci_run_id": ci_run_id(os.environ), **identity})
        sent = send_all(webhooks, event, timeout=float(self.get_option("timeout")))
        for outcome in sent:
            if not outcome["ok"]:
                self._display.warning(f"stackguard_notify: webhook {outcome['url']} did not take the "
                                      f"{self._kind} event: {outcome['error']}")
        delivered = sum(1 for outcome in sent if outcome["ok"])
        self._display.display(f"stackguard_notify: {self._kind} {event['details']['outcome']} sent to "
                              f"{delivered} of {len(sent)} webhook(s)")
