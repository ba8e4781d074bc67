DOCUMENTATION = r"""
name: inventory_guard
short_description: Check a run's hosts against every environment's declared hosts and networks
description:
  - Reads every C(<inventories_dir>/*/) that has a C(hosts.yml) (its C(hosts.yml), C(group_vars/) and
    C(host_vars/); never decrypts anything, vault-encrypted files are skipped) as the declared
    environments, and checks them together - each host's C(stackguard_address) inside its
    environment's C(stackguard_networks), no two environments' networks overlapping, no host name,
    address or C(ansible_host) declared in two environments.
  - Then checks the run's hosts (O(hosts)) - all of one environment; for a declared environment, each
    host declared in its inventory with the same address, networks and C(ansible_host); for any
    environment, no host at another environment's address, network or C(ansible_host). An
    environment not declared under O(inventories_dir) (Molecule, tests) may reuse host names only.
  - Returns the problems as refusal texts (what was refused, why, what to do instead) rather than
    failing, so the caller asserts and a test can read them; and, for a declared environment, its
    pins and change-control policy as the inventory files hold them, and where the run's release or
    stack differs from them (for the C(change_control) lookup to judge).
  - See C(plugins/module_utils/inventory_guard.py).
options:
  hosts:
    description:
      - The run's hosts, each a mapping with C(name), C(environment), C(address), C(networks),
        C(ansible_host), C(inventory_dir), C(release) and C(stack), as the run sees them.
    type: list
    elements: dict
    required: true
  inventories_dir:
    description: The directory of the environments' inventories. Defaults to this repository's C(inventories/).
    type: path
"""

EXAMPLES = r"""
- name: Check the run's hosts against every declared environment
  ansible.builtin.set_fact:
    guard: >-
      {{ lookup('inventory_guard', hosts=[{'name': inventory_hostname,
                                            'environment': stackguard_environment,
                                            'address': stackguard_address,
                                            'networks': stackguard_networks}]) }}

- name: Refuse the run on any problem
  ansible.builtin.assert:
    that: guard.problems | length == 0
    fail_msg: "{{ guard.problems | join('\n') }}"
"""

RETURN = r"""
_raw:
  description: >-
    One mapping - C(environment) (the run's, or null when its hosts are of several), C(declared)
    (whether that environment has an inventory under O(inventories_dir)), C(inventory),
    C(environments) (each declared one's C(directory), C(networks), C(hosts)), C(pins)
    (C(release) and C(stack) as the inventory file holds them) and C(pins_source), C(change_control)
    and C(change_control_source) (the policy as its file holds it), C(pin_differences) (each
    C({kind, hosts, run, pinned, source, comparable}) where a run host's release or stack differs from
    what its inventory files pin for it), and C(problems) (refusal texts).
  type: list
  elements: dict
"""

import os

import ansible.module_utils
from ansible.plugins.lookup import LookupBase

# Controller-side plugins do not see the repo's module_utils path the way modules do; add it so
# the one shared library is imported under its usual name.
_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.change_control import plain  # noqa: E402
from ansible.module_utils.inventory_guard import guard  # noqa: E402

_REPO_INVENTORIES = os.path.join(os.path.dirname(os.path.dirname(_MODULE_UTILS)), "inventories")


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        inventories_dir = self.get_option("inventories_dir") or _REPO_INVENTORIES
        hosts = [host for host in plain(self.get_option("hosts")) if isinstance(host, dict) and host.get("name")]
        return [guard(hosts, inventories_dir)]
