#!/usr/bin/python
DOCUMENTATION = r"""
module: release_stage
short_description: Check, unpack, lint and place a release on a web host, in one call
description:
  - Everything a web host does with a new release before it goes live, in one round trip -
    check the release against this host's PHP and extensions and the database server's version
    (the release_compat rules), refuse a version already staged from another artifact (versions
    are immutable), write the shared configuration (0640 root:O(group)), unpack the artifact into
    C(releases/<version>.partial), link the shared paths, run C(php -l) on every PHP file with this
    host's own PHP, record the artifact's sha256 in C(.artifact.sha256), and rename the directory
    to C(releases/<version>) (whole or absent).
  - A release already staged from the same artifact is left as it is (only the configuration is
    brought up to date). Nothing here touches C(current), so the live release is never affected.
  - The action plugin of the same name reads O(artifact) on the controller and sends it inline,
    so no separate copy is needed.
  - In check mode reports what would change; on a host without Apache yet (no O(group)) it
    reports instead of failing.
  - See C(plugins/module_utils/release_stage.py).
options:
  root:
    description: The app root (C(releases/), C(shared/), C(current)).
    type: path
    required: true
  version:
    description: The release's version (its directory name under C(releases/)).
    type: str
    required: true
  artifact:
    description: The release tarball on the controller (read by the action plugin).
    type: path
    required: true
  sha256:
    description: The artifact's sha256, already verified on the controller.
    type: str
    required: true
  config_content:
    description: The shared configuration file's content (C(shared/config/app.ini)); holds secrets.
    type: str
  group:
    description: The group the web server runs as; it may read the configuration, never write code.
    type: str
    default: www-data
  shared_paths:
    description: Paths under C(shared/) linked into the release.
    type: list
    elements: str
    default: [config/app.ini, uploads]
  mariadb_version:
    description: The database server's version (for the release's C(ext-mysql)/MariaDB requirements).
    type: str
  label:
    description: How the host is named in messages; its host name when unset.
    type: str
"""

EXAMPLES = r"""
- name: Check, stage and lint the release
  release_stage:
    root: /srv/stackguard-app
    version: "1.2.0"
    artifact: build/releases/stackguard-app-1.2.0.tar.gz
    sha256: "{{ artifact_sha256 }}"
    config_content: "{{ lookup('template', 'app.ini.j2') }}"
    mariadb_version: "10.5.29"
  no_log: true  # the configuration holds the database password
"""

RETURN = r"""
staged:
  description: Whether the release was unpacked by this call (false when it was staged already).
  type: bool
  returned: always
compat:
  description: The compatibility check's summary.
  type: str
  returned: always
lint_errors:
  description: The PHP files that do not parse, with the messages of C(php -l).
  type: list
  elements: str
  returned: always
"""

import base64
import os
import socket
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.release_stage import StageError, stage
from ansible.module_utils.stack_module import gatherer


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type="path", required=True),
            version=dict(type="str", required=True),
            artifact=dict(type="path", required=True),
            # Set by the action plugin: the artifact itself, base64.
            artifact_content=dict(type="str", no_log=True),
            sha256=dict(type="str", required=True),
            config_content=dict(type="str", no_log=True),
            group=dict(type="str", default="www-data"),
            shared_paths=dict(type="list", elements="str", default=["config/app.ini", "uploads"]),
            mariadb_version=dict(type="str"),
            label=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not params["artifact_content"]:
        module.fail_json(msg="release_stage runs through its action plugin, which sends the artifact")
    host = params["label"] or socket.gethostname()
    php = module.get_bin_path("php")
    if not php:
        if module.check_mode:  # a new host: runtime_stack, before this, did not install it either
            module.exit_json(changed=True, staged=False, compat=None, lint_errors=[],
                             msg=f"{host} has no PHP yet: the release would be checked and staged "
                                 f"once the runtime stack is installed")
        module.fail_json(msg=f"php is not installed on {host}; nothing changed")
    facts = gatherer(module).gather(runtimes=("php",), holds=False)
    if params["mariadb_version"]:
        facts["mariadb"] = {"version": params["mariadb_version"]}

    def run(argv):
        return module.run_command(argv, environ_update={"LC_ALL": "C"})

    with tempfile.TemporaryDirectory(prefix="stackguard-release-") as temp:
        artifact = os.path.join(temp, os.path.basename(params["artifact"]))
        with open(artifact, "wb") as handle:
            handle.write(base64.b64decode(params["artifact_content"]))
        try:
            result = stage(params["root"], params["version"], artifact, params["sha256"], run,
                           php, facts, host, params["config_content"], params["group"],
                           params["shared_paths"], module.check_mode)
        except StageError as exc:
            module.fail_json(msg=str(exc), **{"changed": False, **getattr(exc, "result", {})})
    module.exit_json(**result)


if __name__ == "__main__":
    main()
