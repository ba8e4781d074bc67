#!/usr/bin/python
DOCUMENTATION = r"""
module: sql_migrations
short_description: Apply a release's forward-only SQL migrations to a MariaDB database
description:
  - Creates C(schema_migrations) when missing, applies the migrations whose version is not
    recorded there, in ascending order, and records each one.
  - Runs the C(mariadb) client as the host's root user over the unix socket.
  - In check mode reports which migrations would be applied and changes nothing.
options:
  database:
    description: The database to migrate. It must exist.
    type: str
    required: true
  migrations:
    description: The release's migrations.
    type: list
    elements: dict
    required: true
    suboptions:
      version:
        description: The migration's number (the C(NNNN) of C(NNNN_name.sql)).
        type: int
        required: true
      name:
        description: The migration's file name.
        type: str
        required: true
      sql:
        description: The migration's SQL.
        type: str
        required: true
  login_unix_socket:
    description: The server's socket.
    type: path
    default: /run/mysqld/mysqld.sock
"""

EXAMPLES = r"""
- name: Migrate the app database
  sql_migrations:
    database: stackguard
    migrations:
      - {version: 1, name: 0001_create_users.sql, sql: "CREATE TABLE users (...)"}
"""

RETURN = r"""
applied:
  description: Versions applied by this run (would be applied, in check mode).
  type: list
  elements: int
  returned: always
schema_version:
  description: The highest version recorded after the run.
  type: int
  returned: always
server_version:
  description:
    - The server's version number (C(10.5.29)), for the release's MariaDB requirements; null in
      check mode on a host without the client yet.
  type: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.sql_migrations import (
    MariaDBClient, MigrationError, client_path, pending)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            database=dict(type="str", required=True),
            migrations=dict(type="list", elements="dict", required=True, options=dict(
                version=dict(type="int", required=True),
                name=dict(type="str", required=True),
                sql=dict(type="str", required=True),
            )),
            login_unix_socket=dict(type="path", default="/run/mysqld/mysqld.sock"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        client = MariaDBClient(module.run_command, client_path(module.get_bin_path),
                               params["database"], params["login_unix_socket"])
    except MigrationError as exc:
        if not module.check_mode:
            module.fail_json(msg=str(exc))
        # A host the runtime stack has not been installed on yet: every migration would apply.
        module.exit_json(changed=bool(params["migrations"]), server_version=None, msg=str(exc),
                         applied=sorted(m["version"] for m in params["migrations"]),
                         schema_version=max((m["version"] for m in params["migrations"]), default=0))
    try:
        server_version = client.server_version()
        if client.database_exists():
            applied_before = client.applied_versions()
        elif module.check_mode:
            applied_before = []  # the database role would create it first: all would apply
        else:
            module.fail_json(msg=f"database {params['database']} does not exist on this host")
        todo = pending(params["migrations"], applied_before)
        if not module.check_mode:
            for migration in todo:
                try:
                    client.apply(migration)
                except MigrationError as exc:
                    applied = [m["version"] for m in todo if m["version"] < migration["version"]]
                    module.fail_json(msg=f"migration {migration['name']} failed: {exc}",
                                     changed=bool(applied), applied=applied)
        versions = applied_before + [m["version"] for m in todo]
    except MigrationError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=bool(todo), applied=[m["version"] for m in todo],
                     schema_version=max(versions, default=0), server_version=server_version)


if __name__ == "__main__":
    main()
