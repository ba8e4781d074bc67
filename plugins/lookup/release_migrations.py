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

import ansible.module_utils
from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

# Controller-side plugins do not see the repo's module_utils path the way modules do; add it so
# the one shared library is imported under its usual name.
_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.release_files import ReleaseFileError, directory_migrations  # noqa: E402


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        migrations = []
        for release_dir in terms:
            try:
                migrations.extend(directory_migrations(release_dir))
            except (ReleaseFileError, OSError) as exc:
                raise AnsibleLookupError(str(exc)) from None
        return sorted(migrations, key=lambda m: m["version"])
