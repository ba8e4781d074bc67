#!/usr/bin/python
DOCUMENTATION = r"""
module: backup_restore
short_description: Restore the app database to a point in time from the backup store
description:
  - Runs on a database host configured by the C(backup) role. Archives the binlogs not yet shipped
    (when the server runs), reads the backup store's catalog, and plans the restore - the newest
    good base backup before the point and the archived binlogs after it, refusing a point before
    the oldest backup or after the newest archived binlog, a gap in the binlog chain, a chain broken
    by an in-place restore and a backup from another major server version.
  - Then fetches the files, verifies every sha256 (a mismatch is refused before anything changes),
    and restores into the scratch instance beside production (a second mariadbd with its own
    datadir and socket), where the rows can be inspected and merged back.
  - With O(in_place=true) it then takes a safety base backup of production, records a chain break
    in the store, replaces the production database with the restored copy, and takes a new base
    backup that starts the chain again.
  - The logic is the same code the host's C(stackguard-backup restore) runs (module_utils
    C(backup_jobs), C(backup_plan)). In check mode only the plan is computed; nothing changes.
options:
  restore_to:
    description:
      - The point - a UTC time C(2026-11-30 14:05:00) (the state just before that second),
        C(latest) (everything archived), or a binlog position C(mariadb-bin.000014:1234) (every event
        before that byte of that file).
    type: str
    required: true
  in_place:
    description: Replace the production database too (after a safety backup), not only the scratch instance.
    type: bool
    default: false
  archive_first:
    description: Ship the binlogs not archived yet before planning, when the server is running.
    type: bool
    default: true
  config:
    description: The backup configuration the C(backup) role writes.
    type: path
    default: /etc/stackguard/backup.json
"""

EXAMPLES = r"""
- name: Restore the state just before 14:05 UTC into the scratch instance
  backup_restore:
    restore_to: "2026-11-30 14:05:00"

- name: Show which base backup and binlogs a restore would use
  backup_restore:
    restore_to: latest
  check_mode: true
"""

RETURN = r"""
plan:
  description: The base backup, the binlogs (key, name, sha256, size), start position and stop.
  type: dict
  returned: always
tables:
  description: Row counts and highest ids of the restored tables.
  type: dict
  returned: when restored
  sample: {users: {rows: 120, max_id: 120}}
scratch_socket:
  description: The scratch instance's socket (C(mariadb --socket=... stackguard)); null after an in-place restore.
  type: str
  returned: when restored
safety_backup:
  description: Id of the base backup of production taken before an in-place restore.
  type: str
  returned: in place
after_restore_backup:
  description: Id of the base backup taken right after an in-place restore.
  type: str
  returned: in place
log:
  description: What the restore did, line by line.
  type: list
  elements: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.backup_catalog import CatalogError
from ansible.module_utils.backup_jobs import Jobs, JobFailed, load_config
from ansible.module_utils.backup_mariadb import MariaDBError
from ansible.module_utils.backup_plan import RestoreRefused
from ansible.module_utils.backup_store import StoreError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            restore_to=dict(type="str", required=True),
            in_place=dict(type="bool", default=False),
            archive_first=dict(type="bool", default=True),
            config=dict(type="path", default="/etc/stackguard/backup.json"),
        ),
        supports_check_mode=True,
    )
    log = []
    try:
        jobs = Jobs(load_config(module.params["config"]), log=log.append)
        result = jobs.restore(module.params["restore_to"], in_place=module.params["in_place"],
                              check=module.check_mode, archive_first=module.params["archive_first"])
    except RestoreRefused as exc:
        module.fail_json(msg=f"restore refused, nothing was changed: {exc}", refused=True, log=log)
    except (JobFailed, MariaDBError, StoreError, CatalogError, OSError) as exc:
        module.fail_json(msg=f"restore failed: {exc}", refused=False, log=log)
    result["log"] = log
    module.exit_json(**result)


if __name__ == "__main__":
    main()
