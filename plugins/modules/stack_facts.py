#!/usr/bin/python
DOCUMENTATION = r"""
module: stack_facts
short_description: Gather a host's runtime stack in one call
description:
  - Returns, as the C(stack_facts) fact, the installed versions of the given packages
    (C(dpkg-query)), the held packages (C(apt-mark showhold)), PHP's version and loaded extensions
    (C(php -r), C(php -m)), Apache's version and modules (C(apache2ctl -v), C(apache2ctl -M)),
    MariaDB's and HAProxy's versions, and the state of the given services.
  - One round trip, no full package scan. Read-only.
options:
  packages:
    description: Packages whose installed version to report (C(null) when not installed).
    type: list
    elements: str
    default: []
  services:
    description: systemd services whose active and enabled state to report.
    type: list
    elements: str
    default: []
  runtimes:
    description: Runtimes to probe. A runtime whose program is absent is reported as C(null).
    type: list
    elements: str
    choices: [php, apache, mariadb, haproxy]
    default: [php, apache, mariadb, haproxy]
"""

EXAMPLES = r"""
- name: Gather the stack facts of a web host
  stack_facts:
    packages: [php7.4-cli, apache2]
    services: [apache2]
    runtimes: [php, apache]
"""

RETURN = r"""
ansible_facts:
  description: The facts.
  returned: always
  type: dict
  contains:
    stack_facts:
      description: >-
        packages (name to version or null), holds (list), php ({version, extensions} or null),
        apache ({version, modules} or null), mariadb and haproxy ({version} or null), services
        (name to {active, enabled}).
      type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.stack_module import gatherer


def main():
    module = AnsibleModule(
        argument_spec=dict(
            packages=dict(type="list", elements="str", default=[]),
            services=dict(type="list", elements="str", default=[]),
            runtimes=dict(type="list", elements="str", default=["php", "apache", "mariadb", "haproxy"],
                          choices=["php", "apache", "mariadb", "haproxy"]),
        ),
        supports_check_mode=True,
    )
    try:
        facts = gatherer(module).gather(module.params["packages"], module.params["services"],
                                        module.params["runtimes"])
    except RuntimeError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, ansible_facts={"stack_facts": facts})


if __name__ == "__main__":
    main()
