DOCUMENTATION = r"""
module: preflight_checks
short_description: Every controller-side preflight check of a run, in one task
description:
  - Runs on the controller only, once per run (C(run_once)), before any host is contacted. In order,
    the first refusal stops it - every play host names its environment and a stack pin; the
    inventory guard (C(inventory_guard) lookup - networks, overlaps, a run across environments);
    the environment's change-control policy (C(change_control) lookup); the controller toolchain
    against the pins (C(toolchain) lookup); a checkout with uncommitted changes where the policy
    requires a clean one; ad-hoc overrides of pinned settings; a run from outside the pipeline; the
    promotion of every release the play's hosts would run, where the policy requires one
    (C(promotion) lookup); and the pinned stack manifests against C(stacks.lock) (C(stack_manifest)
    lookup).
  - One task instead of one per check, because every task costs a round of the strategy over every
    host while these checks need none of them. The lookups named above hold the logic, and this
    action calls them, so each check has one implementation.
  - Returns the findings as C(ansible_facts), which C(run_once) gives every host of the play. A
    break-glass run still needs its interactive confirmation (the preflight role asks for it).
version_added: "1.0.0"
options:
  inventories_dir:
    description: Every environment's inventory directory (C(inventories/)).
    type: path
    required: true
  repo_dir:
    description: The checkout this run comes from.
    type: path
    required: true
  requirements:
    description: The controller's Python pins (C(requirements.txt)).
    type: path
    required: true
  collections_requirements:
    description: The collections' pins (C(requirements.yml)).
    type: path
    required: true
  promotions_dir:
    description: Where promotion records are kept.
    type: path
    required: true
  stacks_dir:
    description: Where the stack manifests and C(stacks.lock) live.
    type: path
    required: true
  change_ticket:
    description: The change ticket of a break-glass run (C(-e change_ticket=<id>)).
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Check the run before any host changes
  preflight_checks:
    inventories_dir: "{{ playbook_dir }}/../inventories"
    repo_dir: "{{ playbook_dir }}/.."
    requirements: "{{ playbook_dir }}/../requirements.txt"
    collections_requirements: "{{ playbook_dir }}/../requirements.yml"
    promotions_dir: "{{ playbook_dir }}/../.cache/promotions"
    stacks_dir: "{{ playbook_dir }}/../stacks"
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
ansible_facts:
  description:
    - C(preflight_inventory_guard) (the C(inventory_guard) result), C(preflight_change_control) (the
      C(change_control) result), C(preflight_commit), C(preflight_checkout_dirty),
      C(preflight_pipeline_run_id), C(preflight_promotions) (the promotion records this run deploys,
      empty where none is required), C(preflight_promotion_refusals) (only a break-glass run gets
      here with some; the role refuses them after its confirmation) and
      C(preflight_stack_manifests) (each pinned manifest by C(<name>@<revision>)).
  type: dict
  returned: success
"""

import os

import ansible.module_utils
from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible.plugins.loader import lookup_loader

# Controller-side plugins do not see the repo's module_utils path the way modules do; add it so
# the one shared library is imported under its usual name.
_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.change_control import plain  # noqa: E402

# What each run host tells the inventory guard, by the guard's field name.
_GUARD_FIELDS = {"environment": "stackguard_environment", "address": "stackguard_address",
                 "networks": "stackguard_networks", "ansible_host": "ansible_host",
                 "inventory_dir": "inventory_dir", "release": "stackguard_app_release",
                 "stack": "stackguard_stack"}


ARGUMENT_SPEC = {
    **{name: {"type": "path", "required": True}
       for name in ("inventories_dir", "repo_dir", "requirements", "collections_requirements",
                    "promotions_dir", "stacks_dir")},
    "change_ticket": {"type": "str", "default": ""},
}


class Refused(Exception):
    """A check refused the run; the text says what, why and what to do instead."""


def stack_key(stack):
    return f"{stack['name']}@{stack['revision']}"


def pin_problems(name, environment, stack, inventory_dir):
    """What is wrong with one host's environment name and stack pin (texts, empty when fine)."""
    where = f"{inventory_dir or 'the inventory'}/group_vars/all/vars.yml"
    problems = []
    if not isinstance(environment, str) or not environment:
        problems.append(f"{name}: {where}: field 'stackguard_environment' is missing or empty. Name the "
                        "environment (local, staging, production) there.")
    revision = str(stack.get("revision", "")) if isinstance(stack, dict) else ""
    if not (isinstance(stack, dict) and isinstance(stack.get("name"), str)
            and revision.isdigit() and not revision.startswith("0")):
        problems.append(f"{name}: {where}: field 'stackguard_stack' must be {{name: <stack>, revision: "
                        f"<whole number from 1>}} (got {stack}).")
    return problems


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def _lookup(self, name, task_vars, *terms, **options):
        plugin = lookup_loader.get(name, loader=self._loader, templar=self._templar)
        return plugin.run(list(terms), variables=task_vars, **options)

    def _hostvar(self, task_vars, host, name):
        # hostvars[host] works out all of the host's variables each time it is asked: once per host.
        if host not in self._host_vars:
            self._host_vars[host] = task_vars["hostvars"][host]
        try:
            return plain(self._host_vars[host].get(name))
        except AnsibleError:
            return None  # a value that does not template is reported by the check that needs it

    def _checks(self, args, task_vars):
        self._host_vars = {}
        play_hosts = list(task_vars.get("ansible_play_hosts_all") or [])
        problems = []
        for host in play_hosts:
            problems += pin_problems(host, self._hostvar(task_vars, host, "stackguard_environment"),
                                     self._hostvar(task_vars, host, "stackguard_stack"),
                                     self._hostvar(task_vars, host, "inventory_dir"))
        if problems:
            raise Refused("\n".join(problems))

        # Every host of the inventory this run loaded, not only the play's: a mixed inventory is
        # refused even under --limit.
        run_hosts = [{"name": host, **{field: self._hostvar(task_vars, host, var)
                                       for field, var in _GUARD_FIELDS.items()}}
                     for host in task_vars["groups"]["all"]]
        guard = self._lookup("inventory_guard", task_vars, hosts=run_hosts,
                             inventories_dir=args["inventories_dir"])[0]
        if guard["problems"]:
            raise Refused("\n".join(guard["problems"]))

        # The policy of a declared environment is its inventory file's (the guard read it), never a
        # variable of the run, which -e could override.
        environment = self._hostvar(task_vars, play_hosts[0], "stackguard_environment") if play_hosts else ""
        control = self._lookup("change_control", task_vars, environment=environment, guard=guard,
                               policy=task_vars.get("stackguard_change_control"),
                               change_ticket=args["change_ticket"], repo_dir=args["repo_dir"])[0]

        toolchain = self._lookup("toolchain", task_vars, requirements=args["requirements"],
                                 collections=args["collections_requirements"])[0]
        for refusal in (toolchain["refusal"], control["checkout_verdict"]["refusal"]):
            if refusal:
                raise Refused(refusal)
        if control["overrides"]:
            raise Refused("\n".join(control["overrides"]))
        if control["pipeline"]["mode"] == "refused":
            raise Refused(control["pipeline"]["refusal"])

        promotions, refusals = [], []
        source = (control["policy"] or {}).get("require_promotion_from")
        if source:
            releases = []
            for host in play_hosts:
                release = self._hostvar(task_vars, host, "stackguard_app_release") or {}
                if release not in releases:
                    releases.append(release)
            found = self._lookup("promotion", task_vars, *releases, source=source, target=environment,
                                 promotions_dir=args["promotions_dir"],
                                 pins_source=guard.get("pins_source") or "the inventory")
            refusals = [promotion["refusal"] for promotion in found if not promotion["promoted"]]
            # A break-glass run is confirmed at the terminal first (the role asks, then refuses
            # these): who runs it comes before what it deploys.
            if refusals and control["pipeline"]["mode"] != "break-glass":
                raise Refused("\n".join(refusals))
            promotions = [promotion["record"] for promotion in found if promotion["promoted"]]

        manifests = {}
        for host in play_hosts:
            stack = self._hostvar(task_vars, host, "stackguard_stack")
            if stack_key(stack) not in manifests:
                manifests[stack_key(stack)] = self._lookup(
                    "stack_manifest", task_vars, stack["name"], revision=stack["revision"],
                    stacks_dir=args["stacks_dir"])[0]

        warnings = [control['checkout_verdict']['warning']] \
            if control["checkout_verdict"].get("warning") else []
        facts = {
            "preflight_inventory_guard": guard,
            "preflight_change_control": control,
            "preflight_commit": control["checkout"]["commit"],
            "preflight_checkout_dirty": control["checkout"]["dirty"],
            "preflight_pipeline_run_id": control["pipeline"]["run_id"],
            "preflight_promotions": promotions,
            "preflight_promotion_refusals": refusals,
            "preflight_stack_manifests": manifests,
        }
        return facts, warnings

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        # The preflight role's own argument spec check is skipped on the hot paths (a round over
        # every host): the same arguments are checked here, once.
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            facts, warnings = self._checks(args, task_vars)
        except Refused as exc:
            return {**result, "failed": True, "msg": str(exc)}
        except AnsibleError as exc:
            # A lookup's own refusal (an unusable policy, an unknown stack, a manifest that differs
            # from stacks.lock) reads like the others.
            return {**result, "failed": True, "msg": str(exc.message if hasattr(exc, "message") else exc)}
        # Facts of this run only: a fact cache must never answer a later run's preflight.
        return {**result, "changed": False, "ansible_facts": facts, "_ansible_facts_cacheable": False,
                **({"warnings": warnings} if warnings else {})}
