"""stack_facts: the output parsers and FactGatherer.

The parser cases are real command outputs, stored verbatim (no header, no comment) under
``fixtures/stack_facts/`` and captured with ``LC_ALL=C`` by read-only ``docker exec`` commands:

* ``bullseye-*``: the local environment built by ``make up`` (stack php74-apache24): Apache, PHP,
  dpkg-query, apt-mark and systemctl on ``sg-local-web1``; mariadbd, mariadb and the
  ``mysql.service`` alias on ``sg-local-db1``; ``haproxy -v`` on ``sg-mol-env-lb1`` (the
  Molecule ``environment`` scenario's lb1, same roles and pins; ``sg-local-lb1`` was not running).
* ``bullseye-dpkg-query-config-files.txt``: a throwaway ``docker run --rm
  stackguard/debian-systemd:bullseye`` container after ``apt-get remove iproute2`` (its conffiles
  stay: ``deinstall ok config-files``); the query also named ``bash`` and the unknown ``nosuchpkg``.
* ``bookworm-*``: the Molecule ``default`` scenario's ``sg-mol-default-bookworm`` (stack
  php82-apache24), except ``bookworm-haproxy-v.txt``, from a throwaway ``docker run --rm
  stackguard/debian-systemd:bookworm`` container with Debian's haproxy installed.

The FactGatherer cases replay those outputs through a recorded ``run`` (what each probe executes)
and, at the end, run the real commands of this machine (dpkg-query, apt-mark, php, systemctl),
comparing with what the same tools report when asked directly. Nothing is installed or held.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from ansible.module_utils.stack_facts import (
    DPKG_FORMAT, FactGatherer, parse_apache_modules, parse_apache_version, parse_dpkg_query,
    parse_haproxy_version, parse_mariadb_version, parse_php_modules, parse_systemctl_show)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stack_facts"


def fixture(name):
    return (FIXTURES / name).read_text(encoding="utf-8")


# --- parsers -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "expected"), [
    ("bullseye-dpkg-query.txt", {  # held packages: "hold ok installed"; nosuchpkg: no line
        "apache2": "2.4.67-1~deb11u3",
        "mariadb-client": "1:10.5.29-0+deb11u1",
        "php7.4-cli": "7.4.33-1+deb11u12",
    }),
    ("bullseye-dpkg-query-config-files.txt", {"bash": "5.1-2+deb11u1"}),  # iproute2 removed
], ids=["held", "config-files"])
def test_parse_dpkg_query_real_output(name, expected):
    assert parse_dpkg_query(fixture(name)) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("", {}),
    # dpkg-query's other states: only a package whose status ends in "installed" counts
    ("php7.4-cli\tinstall ok unpacked\t7.4.33-1+deb11u12\n", {}),
    ("php7.4-cli\tinstall ok half-configured\t7.4.33-1+deb11u12\n", {}),
    ("iproute2\tunknown ok not-installed\t\n", {}),
    ("apache2\tinstall ok installed\t2.4.67-1~deb11u3", {"apache2": "2.4.67-1~deb11u3"}),
    ("dpkg-query: no packages found matching nosuchpkg\n", {}),
], ids=["empty", "unpacked", "half-configured", "not-installed", "no-newline", "stderr-text"])
def test_parse_dpkg_query_states(text, expected):
    assert parse_dpkg_query(text) == expected


def test_the_fixture_was_produced_with_the_gatherers_format():
    assert DPKG_FORMAT == "${Package}\t${Status}\t${Version}\n"
    for line in fixture("bullseye-dpkg-query-config-files.txt").splitlines():
        assert len(line.split("\t")) == 3


@pytest.mark.parametrize(("name", "expected"), [
    ("bullseye-apache2ctl-v.txt", "2.4.67"),
    ("bookworm-apache2ctl-v.txt", "2.4.68"),
])
def test_parse_apache_version(name, expected):
    assert parse_apache_version(fixture(name)) == expected


@pytest.mark.parametrize("text", ["", "apache2ctl: command not found\n", "Server version: nginx/1.22"])
def test_parse_apache_version_without_a_version(text):
    assert parse_apache_version(text) is None


@pytest.mark.parametrize(("name", "php_module", "absent"), [
    ("bullseye-apache2ctl-M.txt", "php7_module", "php_module"),
    ("bookworm-apache2ctl-M.txt", "php_module", "php7_module"),
])
def test_parse_apache_modules(name, php_module, absent):
    text = fixture(name)
    modules = parse_apache_modules(text)
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[0] == "Loaded Modules:"
    assert len(modules) == len(lines) - 1 == 29  # every module line, not the heading
    assert modules == sorted(modules)
    assert {"core_module", "mpm_prefork_module", "headers_module", php_module} <= set(modules)
    assert absent not in modules
    assert all(m.endswith("_module") and " " not in m for m in modules)


def test_parse_apache_modules_ignores_the_warning_and_empty_text():
    warning = ("AH00558: apache2: Could not reliably determine the server's fully qualified domain "
               "name, using 172.17.0.3. Set the 'ServerName' directive globally to suppress this "
               "message\n")
    assert parse_apache_modules("") == []
    assert parse_apache_modules(warning + fixture("bullseye-apache2ctl-M.txt")) == \
        parse_apache_modules(fixture("bullseye-apache2ctl-M.txt"))


@pytest.mark.parametrize(("name", "expected"), [
    ("bullseye-mariadbd-version.txt", "10.5.29"),   # mariadbd  Ver 10.5.29-MariaDB-0+deb11u1-log
    ("bullseye-mariadb-version.txt", "10.5.29"),    # mariadb  Ver 15.1 Distrib 10.5.29-MariaDB
    ("bookworm-mariadbd-version.txt", "10.11.18"),
    ("bookworm-mariadb-version.txt", "10.11.18"),
])
def test_parse_mariadb_version(name, expected):
    assert parse_mariadb_version(fixture(name)) == expected


@pytest.mark.parametrize("text", ["", "mysql  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server)"])
def test_parse_mariadb_version_without_mariadb(text):
    assert parse_mariadb_version(text) is None


@pytest.mark.parametrize(("name", "expected"), [
    ("bullseye-haproxy-v.txt", "2.2.9"),    # "HA-Proxy version 2.2.9-2+deb11u7 ..."
    ("bookworm-haproxy-v.txt", "2.6.12"),   # "HAProxy version 2.6.12-1+deb12u4 ..."
])
def test_parse_haproxy_version(name, expected):
    assert parse_haproxy_version(fixture(name)) == expected


def test_parse_haproxy_version_without_a_version():
    assert parse_haproxy_version("") is None


@pytest.mark.parametrize(("name", "only_here"), [
    ("bullseye-php-m.txt", None),
    ("bookworm-php-m.txt", "random"),  # ext/random is new in PHP 8.2
])
def test_parse_php_modules(name, only_here):
    text = fixture(name)
    modules = parse_php_modules(text)
    assert modules.count("Zend OPcache") == 1  # listed under [PHP Modules] and [Zend Modules]
    assert not any(m.startswith("[") or not m for m in modules)
    assert modules == sorted(modules, key=str.lower)
    body = {line for line in text.splitlines() if line and not line.startswith("[")}
    assert set(modules) == body
    assert {"Core", "mysqli", "pdo_mysql", "mbstring", "intl", "json", "PDO"} <= set(modules)
    if only_here:
        assert only_here in modules
    else:
        assert "random" not in modules


# systemctl show answers in the order the units were named; an alias (mysql) answers with the unit
# it points to (Id=mariadb.service), so states are matched to names by position, not by Id.
@pytest.mark.parametrize(("name", "expected"), [
    ("bullseye-systemctl-show.txt", [
        {"active": "active", "enabled": "disabled"},  # apache-htcacheclean
        {"active": "active", "enabled": "enabled"},   # apache2
        {"active": "inactive", "enabled": "unknown"},  # nosuch: UnitFileState= (empty)
    ]),
    ("bullseye-systemctl-show-mariadb.txt", [{"active": "active", "enabled": "enabled"}]),
    # asked for mysql.service: systemd answers with the unit the alias points to
    ("bullseye-systemctl-show-alias.txt", [{"active": "active", "enabled": "enabled"}]),
])
def test_parse_systemctl_show(name, expected):
    assert parse_systemctl_show(fixture(name)) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("", []),
    ("Id=haproxy.service\nActiveState=failed\nUnitFileState=masked\n",
     [{"active": "failed", "enabled": "masked"}]),
    ("Id=apt-daily.timer\nActiveState=active\nUnitFileState=enabled\n",
     [{"active": "active", "enabled": "enabled"}]),
    ("Id=x.service\n", [{"active": "unknown", "enabled": "unknown"}]),
], ids=["empty", "failed-masked", "not-a-service", "no-states"])
def test_parse_systemctl_show_edges(text, expected):
    assert parse_systemctl_show(text) == expected


# --- FactGatherer on recorded outputs ----------------------------------------------------------

class Replay:
    """run() answering from the captured outputs, recording each argv; which() from a set."""

    def __init__(self, answers, programs):
        self.answers, self.programs, self.calls = answers, programs, []

    def run(self, argv):
        self.calls.append(list(argv))
        key = tuple(argv)
        for pattern, answer in self.answers.items():
            if key[:len(pattern)] == pattern:
                return answer
        raise AssertionError(f"unexpected command {argv}")

    def which(self, name):
        return f"/usr/bin/{name}" if name in self.programs else None


def web1_replay():
    return Replay({
        ("dpkg-query",): (1, fixture("bullseye-dpkg-query.txt"),
                          "dpkg-query: no packages found matching nosuchpkg\n"),
        ("apt-mark", "showhold"): (0, fixture("bullseye-apt-mark-showhold.txt"), ""),
        ("/usr/bin/php", "-r"): (0, fixture("bullseye-php-version.txt"), ""),
        ("/usr/bin/php", "-m"): (0, fixture("bullseye-php-m.txt"), ""),
        ("/usr/bin/apache2ctl", "-v"): (0, fixture("bullseye-apache2ctl-v.txt"), ""),
        ("/usr/bin/apache2ctl", "-M"): (0, fixture("bullseye-apache2ctl-M.txt"), "AH00558: ...\n"),
        ("/usr/bin/mariadb", "--version"): (0, fixture("bullseye-mariadb-version.txt"), ""),
        ("systemctl", "show"): (0, fixture("bullseye-systemctl-show.txt"), ""),
    }, {"php", "apache2", "apache2ctl", "mariadb"})


def test_gather_a_web_host_from_its_real_outputs():
    replay = web1_replay()
    facts = FactGatherer(replay.run, replay.which).gather(
        ["php7.4-cli", "apache2", "nosuchpkg", "mariadb-client"],
        ["nosuch", "apache2", "apache-htcacheclean"])
    assert facts["packages"] == {"apache2": "2.4.67-1~deb11u3", "mariadb-client": "1:10.5.29-0+deb11u1",
                                 "nosuchpkg": None, "php7.4-cli": "7.4.33-1+deb11u12"}
    assert list(facts["packages"]) == sorted(facts["packages"])
    assert facts["holds"] == sorted(fixture("bullseye-apt-mark-showhold.txt").split())
    assert facts["php"]["version"] == "7.4.33"
    assert "Zend OPcache" in facts["php"]["extensions"]
    assert facts["apache"]["version"] == "2.4.67"
    assert "php7_module" in facts["apache"]["modules"]
    # a web host has the MariaDB client only: its version is what the probe reports
    assert facts["mariadb"] == {"version": "10.5.29"}
    assert facts["haproxy"] is None
    assert facts["services"] == {
        "apache-htcacheclean": {"active": "active", "enabled": "disabled"},
        "apache2": {"active": "active", "enabled": "enabled"},
        "nosuch": {"active": "inactive", "enabled": "unknown"},
    }
    # One command per probe and two each for PHP and Apache, run side by side (in no set order)
    assert sorted(call[0] for call in replay.calls) == [
        "/usr/bin/apache2ctl", "/usr/bin/apache2ctl", "/usr/bin/mariadb", "/usr/bin/php", "/usr/bin/php",
        "apt-mark", "dpkg-query", "systemctl"]
    assert ["dpkg-query", "-W", "-f", DPKG_FORMAT,
            "apache2", "mariadb-client", "nosuchpkg", "php7.4-cli"] in replay.calls
    assert ["systemctl", "show", "-p", "Id,ActiveState,UnitFileState",
            "apache-htcacheclean.service", "apache2.service", "nosuch.service"] in replay.calls
    # apache2ctl, not the bare binary (it reads /etc/apache2/envvars)
    assert ["/usr/bin/apache2ctl", "-M"] in replay.calls


def test_gather_probes_only_the_asked_runtimes_and_nothing_for_empty_lists():
    replay = web1_replay()
    facts = FactGatherer(replay.run, replay.which).gather([], [], ["php"])
    assert facts["packages"] == {} and facts["services"] == {}
    assert facts["apache"] is None and facts["mariadb"] is None and facts["haproxy"] is None
    assert facts["php"]["version"] == "7.4.33"
    assert sorted(c[0] for c in replay.calls) == ["/usr/bin/php", "/usr/bin/php", "apt-mark"]


def test_gather_without_holds_leaves_apt_mark_alone():
    replay = web1_replay()
    facts = FactGatherer(replay.run, replay.which).gather(runtimes=["php"], holds=False)
    assert facts["holds"] is None and facts["php"]["version"] == "7.4.33"
    assert [c[0] for c in replay.calls] == ["/usr/bin/php", "/usr/bin/php"]


def test_a_probes_two_commands_run_side_by_side():
    barrier = threading.Barrier(2, timeout=5)
    replay = web1_replay()

    def run(argv):
        barrier.wait()
        return replay.run(argv)

    assert FactGatherer(run, replay.which).apache()["version"] == "2.4.67"
    barrier.reset()
    assert FactGatherer(run, replay.which).php()["version"] == "7.4.33"


def test_gather_runs_the_probes_side_by_side():
    # Each probe waits for the others to have started: run one after another, they would time
    # out at the barrier; side by side, they all pass it.
    barrier = threading.Barrier(3, timeout=5)
    replay = web1_replay()

    def run(argv):
        if argv[0] in ("dpkg-query", "apt-mark", "systemctl"):
            barrier.wait()
        return replay.run(argv)

    facts = FactGatherer(run, replay.which).gather(["apache2"], ["nosuch", "apache2", "apache-htcacheclean"],
                                                   ["php"])
    assert facts["packages"] == {"apache2": "2.4.67-1~deb11u3"}
    assert facts["services"]["apache2"] == {"active": "active", "enabled": "enabled"}
    assert facts["holds"] == sorted(fixture("bullseye-apt-mark-showhold.txt").split())


def test_a_failing_probe_fails_the_gather():
    replay = Replay({("apt-mark",): (100, "", "E: Could not open lock file\n")}, set())
    with pytest.raises(RuntimeError, match="apt-mark showhold failed"):
        FactGatherer(replay.run, replay.which).gather()


def test_absent_programs_give_none_without_running_anything():
    replay = Replay({("apt-mark", "showhold"): (0, "", "")}, set())
    gatherer = FactGatherer(replay.run, replay.which)
    assert gatherer.gather() == {"packages": {}, "holds": [], "services": {}, "php": None,
                                 "apache": None, "mariadb": None, "haproxy": None}
    assert replay.calls == [["apt-mark", "showhold"]]


def test_apache_needs_both_the_binary_and_apache2ctl():
    replay = Replay({}, {"apache2"})
    assert FactGatherer(replay.run, replay.which).apache() is None
    assert replay.calls == []


@pytest.mark.parametrize(("programs", "binary"), [
    ({"mariadbd", "mysqld", "mariadb"}, "/usr/bin/mariadbd"),
    ({"mysqld", "mariadb"}, "/usr/bin/mysqld"),
    ({"mariadb"}, "/usr/bin/mariadb"),
])
def test_mariadb_prefers_the_server(programs, binary):
    replay = Replay({(binary, "--version"): (0, fixture("bullseye-mariadbd-version.txt"), "")}, programs)
    assert FactGatherer(replay.run, replay.which).mariadb() == {"version": "10.5.29"}
    assert replay.calls == [[binary, "--version"]]


def test_haproxy_from_its_real_output():
    replay = Replay({("/usr/bin/haproxy", "-v"): (0, fixture("bullseye-haproxy-v.txt"), "")}, {"haproxy"})
    assert FactGatherer(replay.run, replay.which).haproxy() == {"version": "2.2.9"}


def test_a_failing_apt_mark_is_an_error():
    replay = Replay({("apt-mark",): (100, "", "E: Could not open lock file\n")}, set())
    with pytest.raises(RuntimeError, match="apt-mark showhold failed: E: Could not open lock file"):
        FactGatherer(replay.run, replay.which).holds()


def test_a_failing_php_is_an_error():
    # php -m runs beside php -r, and fails the same way
    replay = Replay({("/usr/bin/php",): (255, "", "PHP Fatal error: oops\n")}, {"php"})
    with pytest.raises(RuntimeError, match="php -r failed: PHP Fatal error: oops"):
        FactGatherer(replay.run, replay.which).php()


def test_a_service_systemd_does_not_answer_for_is_unknown():
    replay = Replay({("systemctl",): (1, "", "System has not been booted with systemd\n")}, set())
    assert FactGatherer(replay.run, replay.which).services(["apache2"]) == {
        "apache2": {"active": "unknown", "enabled": "unknown"}}


def test_a_service_asked_by_its_alias_is_reported_under_that_name():
    replay = Replay({("systemctl",): (0, fixture("bullseye-systemctl-show-alias.txt"), "")}, set())
    assert FactGatherer(replay.run, replay.which).services(["mysql"]) == {
        "mysql": {"active": "active", "enabled": "enabled"}}


# --- FactGatherer on this machine --------------------------------------------------------------

def run_here(argv):
    proc = subprocess.run(argv, capture_output=True, text=True, check=False,
                          env={**os.environ, "LC_ALL": "C"})
    return proc.returncode, proc.stdout, proc.stderr


def _direct(*argv):
    return subprocess.run(argv, capture_output=True, text=True, check=False,
                          env={**os.environ, "LC_ALL": "C"})


def _dpkg_version(package):
    proc = _direct("dpkg-query", "-W", "-f", "${Status}\t${Version}", package)
    status, _, version = proc.stdout.partition("\t")
    return version if proc.returncode == 0 and status.endswith(" installed") else None


def _upstream(debian_version):
    return debian_version.split(":", 1)[-1].rsplit("-", 1)[0]


needs_dpkg = pytest.mark.skipif(not shutil.which("dpkg-query") or not shutil.which("apt-mark"),
                                reason="not a dpkg system")


@pytest.fixture(scope="module")
def here():
    return FactGatherer(run_here, shutil.which)


@needs_dpkg
def test_packages_here_match_dpkg_query(here):
    names = ["bash", "dpkg", "coreutils", "sg-no-such-package"]
    packages = here.packages(names)
    assert list(packages) == sorted(names)
    assert packages["sg-no-such-package"] is None
    for name in ("bash", "dpkg", "coreutils"):
        expected = _direct("dpkg-query", "-W", "-f", "${Version}", name).stdout
        assert expected and packages[name] == expected


@needs_dpkg
def test_holds_here_match_apt_mark(here):
    assert here.holds() == sorted(_direct("apt-mark", "showhold").stdout.split())


def test_php_here():
    if not shutil.which("php"):
        assert FactGatherer(run_here, shutil.which).php() is None
        return
    facts = FactGatherer(run_here, shutil.which).php()
    assert facts["version"] == _direct("php", "-r", "echo PHP_VERSION;").stdout
    assert {"Core", "standard"} <= set(facts["extensions"])
    assert facts["extensions"] == parse_php_modules(_direct("php", "-m").stdout)
    cli = _dpkg_version(f"php{facts['version'].rsplit('.', 1)[0]}-cli") if shutil.which("dpkg-query") else None
    if cli:  # the Debian package's upstream version is the runtime's version
        assert _upstream(cli) == facts["version"]


def test_haproxy_here(here):
    if shutil.which("haproxy"):
        assert here.haproxy()["version"] == parse_haproxy_version(_direct("haproxy", "-v").stdout)
    else:
        assert here.haproxy() is None


def test_apache_here(here):
    if not (shutil.which("apache2") and shutil.which("apache2ctl")):
        assert here.apache() is None
        return
    facts = here.apache()
    installed = _dpkg_version("apache2-bin") if shutil.which("dpkg-query") else None
    if installed:
        assert facts["version"] == _upstream(installed)
    assert "mpm_event_module" in facts["modules"] or "mpm_prefork_module" in facts["modules"] \
        or "mpm_worker_module" in facts["modules"]


def test_mariadb_here(here):
    if not any(shutil.which(p) for p in ("mariadbd", "mysqld", "mariadb")):
        assert here.mariadb() is None
        return
    version = here.mariadb()["version"]
    server = _dpkg_version("mariadb-server") if shutil.which("mariadbd") else None
    if server:
        assert version == _upstream(server)
    else:
        assert version and version[0].isdigit()


def _systemd_answers():
    return shutil.which("systemctl") and os.path.isdir("/run/systemd/system")


def test_services_here(here):
    services = here.services(["dbus", "sg-no-such-unit"])
    if not _systemd_answers():  # systemd is not PID 1 (a container, a sandbox): nothing to ask
        assert services == {"dbus": {"active": "unknown", "enabled": "unknown"},
                            "sg-no-such-unit": {"active": "unknown", "enabled": "unknown"}}
        return
    assert services["sg-no-such-unit"] == {"active": "inactive", "enabled": "unknown"}
    active = _direct("systemctl", "show", "-p", "ActiveState", "--value", "dbus.service").stdout.strip()
    assert services["dbus"]["active"] == active
