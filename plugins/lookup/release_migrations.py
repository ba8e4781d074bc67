DOCUMENTATION = r"""
name: release_migrations
short_description: Read an unpacked release's SQL migrations, in order
description:
  - Lists C(migrations/NNNN_name.sql) of each unpacked release directory and returns
    C({version, name, sql}) per file, ascending by version.
  - A file in C(migrations/) whose name is not C(NNNN_lower_case_name.sql), or two files with the
    same number, is an error naming the file.
options:
  _terms:
    description: Unpacked release directories on the controller.
    required: true
"""

EXAMPLES = r"""
- name: Read the migrations of an unpacked release
  ansible.builtin.set_fact:
    migrations: "{{ query('release_migrations', '/tmp/release-1.0.0') }}"
"""

RETURN = r"""
_raw:
  description: One mapping per migration, ascending by version.
  type: list
  elements: dict
"""

import os
import re

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

MIGRATION = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        migrations = []
        for release_dir in terms:
            directory = os.path.join(release_dir, "migrations")
            if not os.path.isdir(directory):
                continue
            seen = {}
            for name in sorted(os.listdir(directory)):
                match = MIGRATION.match(name)
                if not match:
                    raise AnsibleLookupError(
                        f"{directory}/{name}: a migration's name must be NNNN_lower_case_name.sql")
                version = int(match.group(1))
                if version == 0:
                    raise AnsibleLookupError(
                        f"{directory}/{name}: migrations are numbered from 0001")
                if version in seen:
                    raise AnsibleLookupError(
                        f"{directory}: {seen[version]} and {name} have the same number {version}")
                seen[version] = name
                try:
                    with open(os.path.join(directory, name), encoding="utf-8") as handle:
                        sql = handle.read()
                except UnicodeDecodeError as exc:
                    raise AnsibleLookupError(
                        f"{directory}/{name}: not UTF-8 text ({exc.reason} at byte {exc.start})"
                    ) from None
                migrations.append({"version": version, "name": name, "sql": sql})
        return sorted(migrations, key=lambda m: m["version"])
