DOCUMENTATION = r"""
name: stackguard_audit
type: notification
short_description: Append one JSON line per play run to an audit log (who, what, when, result)
description:
  - Writes one line per play, when the play ends, to O(log_path), with one C(write) on a file
    opened with C(O_APPEND) (mode 0600 when created), so runs sharing a log do not interleave.
  - C(who) is the controller user, the controller's host name and the CI run id (the first of
    C(GITHUB_RUN_ID), C(CI_PIPELINE_ID), C(STACKGUARD_CI_RUN_ID) set, else null).
  - C(what) is the playbook (relative to the current directory when below it), the play's name,
    C(stackguard_environment), C(stackguard_app_release.version), the stack (C(name), C(revision)
    and C(digest) of the manifest C(stackguard_stack) pins, from the C(preflight_stack_manifests)
    fact when the preflight role set it, else C(name) and C(revision) from C(stackguard_stack))
    and the git commit of the playbook's directory with C(dirty) (tracked files changed; both null
    outside a git checkout). The commit is C(preflight_commit) instead when the preflight role
    recorded it (the checkout it judged), and C(change_ticket) is the run's change ticket
    (C(preflight_change_ticket_confirmed), else C(-e change_ticket)), only when it has one.
    Variables are read for the play's first host, at the end of the play.
  - C(when) is the play's start, end (ISO 8601 UTC) and duration in seconds.
  - C(hosts) has each host's C(ok), C(changed), C(failed), C(unreachable) and C(skipped) task
    counts in this play, counted as the recap does (C(ok) includes C(changed); an ignored
    failure and an include count as C(ok)), and C(totals) their sums and the number of hosts.
    A failure later rescued by a block still counts as C(failed) here.
  - No other variable is ever read, and every key matching C(password), C(secret), C(token),
    C(key) or C(vault) is dropped from the record before it is written.
  - The audit log failing to be written is a warning; it never fails the run.
  - See C(plugins/module_utils/audit.py) for the record.
requirements:
  - enable in configuration, e.g. C(callbacks_enabled = stackguard_audit) or
    C(ANSIBLE_CALLBACKS_ENABLED=stackguard_audit)
options:
  log_path:
    description: The audit log file; C(~) is expanded and missing directories are created.
    type: path
    default: ~/.local/state/stackguard/audit.jsonl
    env:
      - name: STACKGUARD_AUDIT_LOG
    ini:
      - section: callback_stackguard_audit
        key: log_path
"""

import getpass
import os
import socket
import time

import ansible.module_utils
from ansible.plugins.callback import CallbackBase

# Controller-side plugins do not see the repo's module_utils path the way modules do; add it so
# the one shared library is imported under its usual name.
_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.audit import (  # noqa: E402
    append_line, build_record, git_state, play_hosts, play_reader, relative_path, release_version, run_identity,
    stack_info, to_line, who)


def _user():
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry, no LOGNAME: still audit the run
        return None


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "stackguard_audit"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None, options=None):
        super().__init__(display=display, options=options)
        self._playbook = None
        self._git = None
        self._play = None
        self._started = None
        self._counts = {}

    # Gathering

    def v2_playbook_on_start(self, playbook):
        path = os.path.abspath(getattr(playbook, "_file_name", "") or "")
        self._playbook = relative_path(path, os.getcwd())
        self._git = git_state(os.path.dirname(path) or os.getcwd())

    def v2_playbook_on_play_start(self, play):
        self._finish_play()
        self._play = play
        self._started = time.time()
        self._counts = {}
        for host in self._play_hosts(play):
            self._host(host.get_name())

    def _play_hosts(self, play):
        return play_hosts(play)

    def _host(self, name):
        return self._counts.setdefault(name, {"ok": 0, "changed": 0, "failed": 0, "unreachable": 0,
                                              "skipped": 0})

    def v2_runner_on_ok(self, result):
        counts = self._host(result._host.get_name())
        counts["ok"] += 1
        if result._result.get("changed", False):
            counts["changed"] += 1

    def v2_runner_on_failed(self, result, ignore_errors=False):
        counts = self._host(result._host.get_name())
        if not ignore_errors:
            counts["failed"] += 1
            return
        counts["ok"] += 1  # as the recap counts an ignored failure
        if result._result.get("changed", False):
            counts["changed"] += 1

    def v2_runner_on_skipped(self, result):
        self._host(result._host.get_name())["skipped"] += 1

    def v2_runner_on_unreachable(self, result):
        ignored = getattr(result._task, "ignore_unreachable", False)
        self._host(result._host.get_name())["ok" if ignored else "unreachable"] += 1

    def v2_playbook_on_include(self, included_file):
        for host in getattr(included_file, "_hosts", []):  # the recap counts an include as ok
            self._host(host.get_name())["ok"] += 1

    def v2_playbook_on_stats(self, stats):
        self._finish_play()

    # Writing

    def _play_vars(self, play):
        """Only the few variables recorded, templated, for the play's first host."""
        value = play_reader(play)
        environment = value("stackguard_environment")
        pin = {key: value("stackguard_stack", key) for key in ("name", "revision")}
        loaded = f"{pin['name']}@{pin['revision']}"
        manifest = {key: value("preflight_stack_manifests", loaded, key) for key in ("name", "revision", "digest")}
        return {"environment": None if environment is None else str(environment),
                "release": release_version({"version": value("stackguard_app_release", "version")}),
                "stack": stack_info(manifest, pin),
                "identity": run_identity(value, self._git)}

    def _finish_play(self):
        play, self._play = self._play, None
        if play is None:
            return
        try:
            try:
                variables = self._play_vars(play)
            except Exception as error:
                self._display.warning(f"stackguard_audit: could not read the play's variables: {error}")
                variables = {"environment": None, "release": None, "stack": stack_info(),
                             "identity": run_identity(lambda *_: None, self._git)}
            record = build_record(
                who=who(_user(), socket.gethostname(), os.environ),
                playbook=self._playbook,
                play=play.get_name(),
                environment=variables["environment"],
                release=variables["release"],
                stack=variables["stack"],
                git=dict(self._git or {}, commit=variables["identity"]["commit"]),
                change_ticket=variables["identity"]["change_ticket"],
                started=self._started,
                ended=time.time(),
                hosts=self._counts,
            )
            append_line(self.get_option("log_path"), to_line(record))
        except Exception as error:  # the audit log must never fail the run
            self._display.warning(f"stackguard_audit: could not write the audit log: {error}")
