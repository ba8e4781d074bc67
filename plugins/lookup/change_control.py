DOCUMENTATION = r"""
name: change_control
short_description: Judge this run against its environment's change-control policy
description:
  - The policy is C(stackguard_change_control) as the environment's inventory file holds it (from the
    O(guard) result of the C(inventory_guard) lookup, never from the run's variables, which C(-e)
    could override); for an environment without an inventory under C(inventories/) (Molecule,
    tests) it is O(policy), and without one it requires nothing.
  - Judges - whether this process runs in the declared pipeline (CI identity variables, run id,
    branch from C(ref_env) or the checkout), or may break glass with O(change_ticket); whether the
    checkout of O(repo_dir) is clean (C(git status), untracked files included) and its commit;
    which variables were given with C(-e); and, from the O(guard) result's C(pin_differences),
    whether the run's release and stack are the ones the inventory files pin for each host.
  - Returns the verdicts with refusal texts (what was refused, why, what to do instead) rather than
    failing; an unusable policy fails naming its file and field.
  - See C(plugins/module_utils/change_control.py).
options:
  environment:
    description: The run's environment.
    type: str
    required: true
  guard:
    description: The C(inventory_guard) lookup's result for this run.
    type: dict
    required: true
  policy:
    description: The run's C(stackguard_change_control), used only when the environment is not declared.
    type: raw
  change_ticket:
    description: The break-glass change ticket (C(-e change_ticket=...)).
    type: str
    default: ""
  repo_dir:
    description: The checkout the run comes from. Defaults to this repository.
    type: path
"""

EXAMPLES = r"""
- name: Judge the run
  ansible.builtin.set_fact:
    change_control: >-
      {{ lookup('change_control', environment=stackguard_environment, guard=inventory_guard,
                change_ticket=change_ticket | default('')) }}
"""

RETURN = r"""
_raw:
  description: >-
    One mapping - C(environment); C(policy) (complete) and C(policy_source); C(checkout)
    (C(path), C(commit), C(branch), C(dirty), C(changes)); C(extra_vars) (names given with C(-e));
    C(pipeline) (C(mode) not-required, pipeline, break-glass or refused, C(refusal), C(run_id),
    C(branch), C(missing)); C(checkout_verdict) (C(refusal), C(warning)); C(overrides) (refusals);
    C(change_ticket).
  type: list
  elements: dict
"""

import os

import ansible.module_utils
from ansible import context
from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.vars import load_extra_vars

# Controller-side plugins do not see the repo's module_utils path the way modules do; add it so
# the one shared library is imported under its usual name.
_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.change_control import (  # noqa: E402
    PolicyError, checkout_state, evaluate, parse_policy, plain, refusal)

_REPO = os.path.dirname(os.path.dirname(_MODULE_UTILS))


class LookupModule(LookupBase):
    def _extra_var_names(self):
        """The variables given with -e (or -e @file) to this ansible-playbook run."""
        if not context.CLIARGS.get("extra_vars"):
            return []
        return sorted(str(name) for name in load_extra_vars(self._loader))

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        environment = str(self.get_option("environment"))
        guard = plain(self.get_option("guard") or {})
        if guard.get("declared"):
            source = guard.get("change_control_source") or f"{guard.get('inventory')} (no change_control.yml)"
            data = guard.get("change_control")
            pins_source = guard.get("pins_source") or guard.get("inventory")
        else:
            source, data = "stackguard_change_control of this run's inventory", plain(self.get_option("policy"))
            pins_source = "this run's inventory"
        try:
            policy = parse_policy(data, source)
        except PolicyError as exc:
            raise AnsibleLookupError(refusal(
                f"a run of {environment} under a change-control policy that cannot be used", str(exc),
                "fix the policy file through a reviewed commit")) from None
        checkout = checkout_state(self.get_option("repo_dir") or _REPO)
        extra_vars = self._extra_var_names()
        verdict = evaluate(
            environment=environment, policy=policy, policy_source=source, checkout=checkout,
            environ=os.environ, ticket=self.get_option("change_ticket"), extra_vars=extra_vars,
            differences=guard.get("pin_differences") or [], pins_source=pins_source)
        return [{
            "environment": environment,
            "policy": policy,
            "policy_source": source,
            "checkout": checkout,
            "extra_vars": extra_vars,
            "pipeline": verdict["pipeline"],
            "checkout_verdict": verdict["checkout"],
            "overrides": verdict["overrides"],
            "change_ticket": str(self.get_option("change_ticket") or "").strip() or None,
        }]
