"""The stack_facts module through real Ansible, on this machine as localhost.

Each case is one ``ansible localhost -c local -i localhost, -m stack_facts -a '<json>'`` run with
the repository's ansible.cfg (its library and module_utils paths), the json stdout callback and an
in-memory fact cache (nothing is written to .cache/facts). The runs start together, once per test
module, and every fact is checked against what dpkg-query, apt-mark and php say when asked
directly. Read-only: nothing is installed or held.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.unit.ansible_adhoc import ansible, direct, requires_ansible_and_dpkg

pytestmark = requires_ansible_and_dpkg


def dpkg_version(package):
    status, _, version = direct("dpkg-query", "-W", "-f", "${Status}\t${Version}", package).partition("\t")
    return version if status.endswith(" installed") else None


def upstream(debian_version):
    return debian_version.split(":", 1)[-1].rsplit("-", 1)[0]


RUNS = {
    "brief": ("stack_facts", {"packages": ["bash", "nosuchpkg"], "services": [], "runtimes": ["php", "haproxy"]}),
    # every runtime (the default), in check mode: read-only, so it gathers the same
    "defaults": ("stack_facts", {"packages": ["coreutils", "dpkg", "apache2-bin", "mariadb-server"],
                                 "services": ["dbus", "sg-no-such-unit"]}, "--check"),
    "bad-runtime": ("stack_facts", {"runtimes": ["nginx"]}),
}


@pytest.fixture(scope="module")
def runs():
    with ThreadPoolExecutor(max_workers=len(RUNS)) as pool:
        futures = {key: pool.submit(ansible, *spec) for key, spec in RUNS.items()}
        return {key: future.result() for key, future in futures.items()}


def facts_of(result):
    rc, host = result
    assert rc == 0, host.get("msg")
    assert host["changed"] is False
    return host["ansible_facts"]["stack_facts"]


def test_the_briefs_call(runs):
    facts = facts_of(runs["brief"])
    assert set(facts) == {"packages", "holds", "php", "apache", "mariadb", "haproxy", "services"}
    assert facts["packages"] == {"bash": direct("dpkg-query", "-W", "-f", "${Version}", "bash"),
                                 "nosuchpkg": None}
    assert facts["packages"]["bash"]
    assert facts["holds"] == sorted(direct("apt-mark", "showhold").split())
    assert facts["services"] == {}
    assert facts["apache"] is None and facts["mariadb"] is None  # not asked for
    if shutil.which("haproxy"):
        assert facts["haproxy"]["version"]
    else:
        assert facts["haproxy"] is None
    php = shutil.which("php")
    if php:
        assert facts["php"]["version"] == direct(php, "-r", "echo PHP_VERSION;")
        assert {"Core", "standard"} <= set(facts["php"]["extensions"])
        assert facts["php"]["extensions"] == sorted(facts["php"]["extensions"], key=str.lower)
    else:
        assert facts["php"] is None


def test_default_runtimes_and_services_in_check_mode(runs):
    facts = facts_of(runs["defaults"])
    names = ["apache2-bin", "coreutils", "dpkg", "mariadb-server"]
    assert facts["packages"] == {name: dpkg_version(name) for name in names}
    assert list(facts["packages"]) == names
    apache_bin = facts["packages"]["apache2-bin"]
    if apache_bin and shutil.which("apache2ctl"):
        assert facts["apache"]["version"] == upstream(apache_bin)
        assert any(m.startswith("mpm_") for m in facts["apache"]["modules"])
    mariadb_server = facts["packages"]["mariadb-server"]
    if mariadb_server and shutil.which("mariadbd"):
        assert facts["mariadb"] == {"version": upstream(mariadb_server)}
    if not any(shutil.which(p) for p in ("mariadbd", "mysqld", "mariadb")):
        assert facts["mariadb"] is None
    php = shutil.which("php")
    assert (facts["php"] or {}).get("version") == (direct(php, "-r", "echo PHP_VERSION;") if php else None)
    assert (facts["haproxy"] is None) == (shutil.which("haproxy") is None)
    assert set(facts["services"]) == {"dbus", "sg-no-such-unit"}
    if os.path.isdir("/run/systemd/system"):
        assert facts["services"]["sg-no-such-unit"] == {"active": "inactive", "enabled": "unknown"}
    else:  # systemd is not PID 1 here: systemctl cannot answer
        assert all(s == {"active": "unknown", "enabled": "unknown"} for s in facts["services"].values())


def test_an_unknown_runtime_is_refused(runs):
    rc, host = runs["bad-runtime"]
    assert rc != 0 and host["failed"] is True
    assert "runtimes" in host["msg"] and "nginx" in host["msg"]
