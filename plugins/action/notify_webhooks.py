DOCUMENTATION = r"""
module: notify_webhooks
short_description: Send an event (deploy, rollback, drift, ...) to chat and generic webhooks
description:
  - Runs on the controller and POSTs one JSON body per webhook with Python's urllib (proxies
    from the environment are used, except for loopback addresses).
  - A webhook that is down, slow or answers an error never fails the task; it is listed in
    RV(sent) and RV(failed_webhooks) and reported as a warning.
  - Keys of O(event.details) matching C(password), C(secret), C(token), C(key) or C(vault)
    (case-insensitive, at any depth) are dropped before sending. Webhook URLs are masked in
    the results, since an incoming-webhook URL is itself a credential.
  - See C(plugins/module_utils/notify.py) for the payloads.
version_added: "1.0.0"
options:
  webhooks:
    description: Where to send the event.
    type: list
    elements: dict
    required: true
    suboptions:
      url:
        description: The webhook's http(s) URL.
        type: str
        required: true
      style:
        description:
          - C(slack) sends C({"text", "attachments"}), what Slack and Mattermost incoming webhooks
            accept.
          - 'C(generic) sends the event as JSON, plus C("source": "stackguard").'
        type: str
        choices: [slack, generic]
        default: generic
  event:
    description: What happened.
    type: dict
    required: true
    suboptions:
      kind:
        description: C(deploy), C(rollback), C(drift), C(backup_failed), ...
        type: str
        required: true
      summary:
        description: One line.
        type: str
        required: true
      environment:
        description: Defaults to the C(stackguard_environment) variable.
        type: str
      status:
        description: The outcome.
        type: str
        choices: [ok, failed, warning]
        default: ok
      details:
        description: Anything else worth sending; secret-looking keys are dropped.
        type: dict
        default: {}
      at:
        description: When, ISO 8601 UTC; defaults to now.
        type: str
  timeout:
    description: Seconds to wait for each webhook.
    type: int
    default: 5
attributes:
  check_mode:
    support: none
    details: Nothing is sent in check mode; the task is skipped.
  diff_mode:
    support: none
notes:
  - An action plugin: it runs on the controller only, whatever the connection. Use
    C(run_once: true) to notify once per play rather than once per host.
author:
  - stackguard
"""

EXAMPLES = r"""
- name: Tell the team a deploy finished
  notify_webhooks:
    webhooks: "{{ stackguard_webhooks }}"
    event:
      kind: deploy
      summary: "Release {{ stackguard_app_release.version }} deployed"
      details:
        release: "{{ stackguard_app_release.version }}"
        hosts: "{{ ansible_play_hosts }}"
  run_once: true
"""

RETURN = r"""
sent:
  description: One result per webhook, in order.
  type: list
  elements: dict
  returned: always
  contains:
    url:
      description: The webhook URL, masked (scheme, host and first path segment).
      type: str
    ok:
      description: Whether the webhook answered 2xx.
      type: bool
    status:
      description: The HTTP status, null when none came back.
      type: int
    error:
      description: Why it failed, null when it did not.
      type: str
failed_webhooks:
  description: How many webhooks did not take the event.
  type: int
  returned: always
event:
  description: The event as sent (defaults filled in, details redacted).
  type: dict
  returned: always
"""

import os

import ansible.module_utils
from ansible.plugins.action import ActionBase

# Controller-side plugins do not see the repo's module_utils path the way modules do; add it so
# the one shared library is imported under its usual name.
_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.notify import STYLES, normalize, send_all  # noqa: E402

ARGUMENT_SPEC = {
    "webhooks": {"type": "list", "elements": "dict", "required": True, "options": {
        "url": {"type": "str", "required": True},
        "style": {"type": "str", "choices": list(STYLES), "default": "generic"},
    }},
    "event": {"type": "dict", "required": True, "options": {
        "kind": {"type": "str", "required": True},
        "summary": {"type": "str", "required": True},
        "environment": {"type": "str"},
        "status": {"type": "str", "choices": ["ok", "failed", "warning"], "default": "ok"},
        "details": {"type": "dict", "default": {}},
        "at": {"type": "str"},
    }},
    "timeout": {"type": "int", "default": 5},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = False  # nothing is sent in check mode: the task is skipped

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        event = dict(args["event"])
        if not event.get("environment"):
            environment = task_vars.get("stackguard_environment")
            event["environment"] = self._templar.template(environment) if environment else None
        event = normalize(event)
        sent = send_all(args["webhooks"], event, timeout=args["timeout"])
        failed = [r for r in sent if not r["ok"]]
        result.update(changed=False, sent=sent, failed_webhooks=len(failed), event=event)
        if failed:
            result.setdefault("warnings", []).extend(
                f"webhook {r['url']} did not take the {event['kind']} event: {r['error']}" for r in failed)
        result["msg"] = f"{len(sent) - len(failed)} of {len(sent)} webhook(s) notified"
        return result
