"""Make the repository's plugins importable the way Ansible imports them.

Modules and filters import shared code as ``ansible.module_utils.<name>``; at
run time Ansible finds it through the configured module_utils path. Here the
repository's ``plugins/module_utils`` is appended to the ``ansible.module_utils``
package path instead, and the repository root goes on ``sys.path`` so tests can
import ``plugins.<type>.<name>`` (plugins/ is an implicit namespace package).
"""

from __future__ import annotations

import sys
from pathlib import Path

import ansible.module_utils

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
MODULE_UTILS = REPOSITORY_ROOT / "plugins" / "module_utils"

if str(REPOSITORY_ROOT) not in sys.path:
    sys.path.insert(0, str(REPOSITORY_ROOT))
if str(MODULE_UTILS) not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(str(MODULE_UTILS))
