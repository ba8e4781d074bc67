"""Make ``ansible.module_utils.<name>`` importable on a host that has no Ansible.

Installed by the stackguard ``host_tools`` role beside ``module_utils/``, which holds copies of the
repository's ``plugins/module_utils/*.py``. A host-side script starts with::

    import sys; sys.path.insert(0, "/usr/local/lib/stackguard")
    import stackguard_host  # noqa: F401  (makes ansible.module_utils.* importable)

and then imports the shared library exactly as the modules do (``from ansible.module_utils.notify
import send_all``): the same files, so the same code path on the controller, in modules and on the
host.

Without Ansible, stub ``ansible`` and ``ansible.module_utils`` packages are registered in
``sys.modules``; the latter's ``__path__`` is the ``module_utils`` directory, so Python's normal
import machinery finds ``ansible.module_utils.<name>`` there. When a real Ansible is already
imported, the directory is put first on its ``ansible.module_utils.__path__`` instead, so the
installed copies still win over whatever that Ansible ships under the same name. Python 3.9+,
standard library only.
"""
import os
import sys
import types

MODULE_UTILS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "module_utils")


def _package(name, path):
    module = types.ModuleType(name, f"stackguard stub package for {name} (see {__file__})")
    module.__path__ = list(path)
    module.__package__ = name
    module.__file__ = None
    return module


def install(module_utils=MODULE_UTILS):
    """Register (or extend) ``ansible`` / ``ansible.module_utils`` so ``module_utils`` is searched first."""
    ansible = sys.modules.get("ansible")
    if ansible is None:
        ansible = sys.modules["ansible"] = _package("ansible", [])
    utils = sys.modules.get("ansible.module_utils")
    if utils is None:
        utils = sys.modules["ansible.module_utils"] = _package("ansible.module_utils", [module_utils])
        ansible.module_utils = utils
    elif module_utils not in list(utils.__path__):
        # A real Ansible: its __path__ may be a plain list or a namespace path; rebuild it.
        utils.__path__ = [module_utils] + [p for p in utils.__path__ if p != module_utils]
    return utils


install()
