DOCUMENTATION = r"""
name: stackguard_timeline
type: notification
short_description: Write each task's start and end on each host as JSON lines (for timelines)
description:
  - Writes one JSON line per task and host, when the task ends on that host, to O(log_path), with
    C(host), C(play), C(role) (null outside a role), C(task) (the task's name as it ran, without
    the role prefix; its action when it has none), C(action), C(start) and C(end) (seconds since
    the epoch, as floats), C(status) (C(ok), C(changed), C(failed), C(ignored) for a failure
    under C(ignore_errors), C(skipped) or C(unreachable)), C(run) and C(task_id).
  - C(run) counts the plays as they run, from 1; a play with C(serial) runs once per batch, so
    each batch has its own number. C(task_id) is the task's id in the run. The lines with the
    same C(run) and C(task_id) are one round of the linear strategy (a task on the hosts of one
    batch), which is how C(bench/fleet.py) counts the rounds of a deploy.
  - C(start) is when the task was handed to a worker for that host, C(end) when its result reached
    the controller, so C(end - start) includes the connection's round trip. A task run once
    (C(run_once)) has one line, for the host it ran on; a task with a loop has one line for the
    whole loop.
  - A task still running when the playbook is interrupted has no line.
  - Each line is written with one C(write) on a file opened with C(O_APPEND) (mode 0600 when
    created), as the task ends, so an interrupted run keeps every line written so far.
  - Nothing from a task's arguments or result is written. Failing to write is a warning; it never
    fails the run.
  - C(bench/deploy.py) enables it and draws the phases of a deploy per host from its lines.
requirements:
  - enable in configuration, e.g. C(callbacks_enabled = stackguard_timeline) or
    C(ANSIBLE_CALLBACKS_ENABLED=stackguard_timeline)
options:
  log_path:
    description: The JSON lines file; C(~) is expanded and missing directories are created.
    type: path
    default: ~/.local/state/stackguard/timeline.jsonl
    env:
      - name: STACKGUARD_TIMELINE_LOG
    ini:
      - section: callback_stackguard_timeline
        key: log_path
"""

import json
import os
import time

import ansible.module_utils
from ansible.plugins.callback import CallbackBase

# Controller-side plugins do not see the repo's module_utils path the way modules do; add it so
# the one shared library is imported under its usual name.
_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.audit import append_line  # noqa: E402


def _role_name(task):
    role = getattr(task, "_role", None)
    if role is None:
        return None
    try:
        return role.get_name(include_role_fqcn=False)
    except TypeError:  # an older signature
        return role.get_name()


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "stackguard_timeline"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None, options=None):
        super().__init__(display=display, options=options)
        self._play = None
        self._run = 0  # play runs so far: a serial play runs once per batch
        self._started = {}  # (host, task uuid) -> (start, play, run, role, task name, action)
        self._warned = False

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name()
        self._run += 1

    def v2_runner_on_start(self, host, task):
        self._started[(host.get_name(), task._uuid)] = (time.time(), self._play, self._run,
                                                        _role_name(task), task.name or "", task.action)

    def v2_runner_on_ok(self, result):
        self._end(result, "changed" if result.is_changed() else "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._end(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result):
        self._end(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._end(result, "unreachable")

    def _end(self, result, status):
        ended = time.time()
        host, task = result.host.get_name(), result.task
        started = self._started.pop((host, task._uuid), None)
        if started is None:  # decided by the strategy, never sent to a worker (e.g. a skipped meta)
            started = (ended, self._play, self._run, _role_name(task), task.name or "", task.action)
        start, play, run, role, name, action = started
        # The name as it ran (templated) when the result carries it; a nameless task by its action.
        name = str(result.task_fields.get("name") or name or action)
        self._write({"host": host, "play": play, "role": role, "task": name, "action": action,
                     "start": start, "end": ended, "status": status, "run": run, "task_id": task._uuid})

    def _write(self, record):
        try:
            append_line(self.get_option("log_path"), json.dumps(record, sort_keys=True) + "\n")
        except Exception as error:  # the timeline must never fail the run
            if not self._warned:
                self._display.warning(f"stackguard_timeline: could not write the timeline: {error}")
                self._warned = True
