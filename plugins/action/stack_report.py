DOCUMENTATION = r"""
module: stack_report
short_description: Print the fleet's stack check, write it as JSON, and fail when any host drifts
description:
  - Runs on the controller, once (C(run_once)), after every host of the play registered its
    C(stack_verify) result. Builds the report (for each host of the play, C(in_sync), C(summary)
    and C(drift)), prints one line per host, and fails naming the drifted hosts and their items.
    The whole report (with each drift item's expected and actual values) goes to O(report_file).
  - A host with no result (unreachable, or failed before its check) counts as drift.
  - One task instead of a write and an assert over templated variables - the fleet report costs
    one round of the strategy.
  - See C(plugins/module_utils/stack_report.py).
version_added: "1.0.0"
options:
  result_var:
    description: The variable each host registered the C(stack_verify) result in.
    type: str
    default: verify_stack_result
  report_file:
    description:
      - Also write the report as JSON to this controller path (replaced whole), in check mode too.
      - Empty writes nothing.
    type: path
    default: ""
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - An action plugin - it runs on the controller only, whatever the connection.
author:
  - stackguard
"""

EXAMPLES = r"""
- name: Print the fleet report, and fail when any host drifts from its pinned stack
  stack_report:
    report_file: /tmp/stack-report.json
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
drifted:
  description: The hosts that drift or gave no result.
  returned: always
  type: list
  elements: str
msg:
  description: One C(host - summary) line per host; on drift, the failure message.
  returned: always
  type: raw
"""

import os

import ansible.module_utils
from ansible.plugins.action import ActionBase

# Controller-side plugins do not see the repo's module_utils path the way modules do; add it so
# the one shared library is imported under its usual name.
_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.stack_report import build, drifted, failure, lines, write  # noqa: E402

ARGUMENT_SPEC = {
    "result_var": {"type": "str", "default": "verify_stack_result"},
    "report_file": {"type": "path", "default": ""},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        hostvars = task_vars["hostvars"]
        report = build({host: hostvars[host].get(args["result_var"])
                        for host in task_vars.get("ansible_play_hosts_all") or []})
        if args["report_file"]:
            try:
                write(args["report_file"], report)
            except OSError as exc:
                return {**result, "failed": True,
                        "msg": f"cannot write the report to {args['report_file']}: {exc.strerror}"}
        bad = drifted(report)
        # Printed without -v, as the report of a check is its whole point: its lines, not the
        # whole report again (report_file has it).
        return {**result, "changed": False, "drifted": bad, "_ansible_verbose_always": True,
                **({"failed": True, "msg": failure(report)} if bad else {"msg": lines(report)})}
