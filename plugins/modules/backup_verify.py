#!/usr/bin/python
DOCUMENTATION = r"""
module: backup_verify
short_description: Test the backups by restoring them and comparing with the live database
description:
  - Runs on a database host configured by the C(backup) role. Reads the row count and highest id
    of every app table in one consistent snapshot of the live database, with the binlog position
    that snapshot matches; archives the binlogs; restores the newest base backup plus the archived
    binlogs up to that exact position into the scratch instance; compares; removes the scratch copy.
  - Fails, and alerts with C(stackguard-notify --kind backup_failed), when the restored copy differs,
    or when the archive cannot be restored at all. Records the outcome (kind C(verify)) in the
    backup status file and Prometheus textfile.
  - The same code the weekly C(stackguard-backup-verify.timer) runs (module_utils C(backup_jobs)).
    In check mode only the plan for the latest point is computed; nothing changes.
  - Production data is only read; the run flushes the binary log (a new binlog file) and ships the
    closed ones, as the archive timer does.
options:
  config:
    description: The backup configuration the C(backup) role writes.
    type: path
    default: /etc/stackguard/backup.json
"""

EXAMPLES = r"""
- name: Restore the latest backup into scratch and compare it with the live database
  backup_verify:
"""

RETURN = r"""
point:
  description: The binlog position of the live snapshot the restore was taken to.
  type: str
  returned: success
base:
  description: The base backup the restore started from.
  type: str
  returned: success
live:
  description: Rows and highest id per app table in the live snapshot.
  type: dict
  returned: success
restored:
  description: The same, in the restored copy.
  type: dict
  returned: success
differences:
  description: One line per difference (empty on success).
  type: list
  elements: str
  returned: always
plan:
  description: In check mode, the plan a restore to the latest point would follow.
  type: dict
  returned: check mode
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.backup_catalog import CatalogError
from ansible.module_utils.backup_jobs import Jobs, JobFailed, load_config
from ansible.module_utils.backup_mariadb import MariaDBError
from ansible.module_utils.backup_plan import RestoreRefused
from ansible.module_utils.backup_store import StoreError


def main():
    module = AnsibleModule(
        argument_spec=dict(config=dict(type="path", default="/etc/stackguard/backup.json")),
        supports_check_mode=True,
    )
    log = []
    try:
        jobs = Jobs(load_config(module.params["config"]), log=log.append)
        if module.check_mode:
            module.exit_json(changed=False, plan=jobs.plan("latest"), differences=[], log=log)
        result = jobs.verify()
    except (RestoreRefused, JobFailed, MariaDBError, StoreError, CatalogError, OSError) as exc:
        message = str(exc) if isinstance(exc, JobFailed) else f"the restore test failed: {exc}"
        module.fail_json(msg=message, differences=[], log=log)
    module.exit_json(changed=False, log=log, **result)


if __name__ == "__main__":
    main()
