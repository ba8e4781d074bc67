"""Read, in one pass on a host, what its runtime stack really is.

Installed package versions (dpkg-query), holds (apt-mark showhold), PHP's version and loaded
extensions, Apache's version and loaded modules, MariaDB's and HAProxy's versions, and the state
of services. Each probe is skipped when its program is absent (its facts are then None).

`run(argv) -> (rc, stdout, stderr)` executes a command; AnsibleModule.run_command in the modules,
subprocess in the on-host monitor and the tests. Commands run with LC_ALL=C. ``gather`` runs the
probes side by side (a thread each), and a probe its two commands: they are a handful of short
programs that mostly wait for exec and disk, and a module call pays for the slowest of them rather
than their sum.
"""
import re
from concurrent.futures import ThreadPoolExecutor

DPKG_FORMAT = "${Package}\t${Status}\t${Version}\n"
RUNTIMES = ("php", "apache", "mariadb", "haproxy")


def _lines(text):
    return [line.strip() for line in text.splitlines() if line.strip()]


def parse_dpkg_query(text):
    """dpkg-query -W -f DPKG_FORMAT output -> {package: version} for installed packages."""
    installed = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[1].split()[-1:] == ["installed"]:
            installed[parts[0]] = parts[2]
    return installed


def parse_apache_version(text):
    match = re.search(r"Apache/(\d+(?:\.\d+)*)", text)
    return match.group(1) if match else None


def parse_apache_modules(text):
    return sorted(m.group(1) for m in re.finditer(r"^\s*(\S+_module) \(", text, re.MULTILINE))


def parse_mariadb_version(text):
    match = re.search(r"(?:Distrib |Ver )(\d+\.\d+\.\d+)-MariaDB", text)
    return match.group(1) if match else None


def parse_haproxy_version(text):
    match = re.search(r"HAProxy version (\d+\.\d+\.\d+)|HA-Proxy version (\d+\.\d+\.\d+)", text)
    return (match.group(1) or match.group(2)) if match else None


def parse_php_modules(text):
    """`php -m` lists modules under [PHP Modules] and [Zend Modules]; a module in both counts once."""
    return sorted({line for line in _lines(text) if not line.startswith("[")}, key=str.lower)


def parse_systemctl_show(text):
    """`systemctl show -p Id,ActiveState,UnitFileState a b` -> [{active, enabled}], in the order
    the units were asked for (Id is the real unit, which differs for an alias such as mysql)."""
    states = []
    for block in re.split(r"\n\s*\n", text.strip()):
        fields = dict(line.split("=", 1) for line in _lines(block) if "=" in line)
        if "Id" in fields:
            states.append({"active": fields.get("ActiveState") or "unknown",
                           "enabled": fields.get("UnitFileState") or "unknown"})
    return states


class FactGatherer:
    def __init__(self, run, which):
        """run(argv) -> (rc, out, err); which(name) -> path or None."""
        self.run, self.which = run, which

    def run_all(self, *commands):
        """Run the commands side by side; their (rc, out, err) in the order given."""
        with ThreadPoolExecutor(max_workers=len(commands)) as pool:
            return list(pool.map(self.run, commands))

    def packages(self, names):
        if not names:
            return {}
        _, out, _ = self.run(["dpkg-query", "-W", "-f", DPKG_FORMAT, *sorted(names)])
        installed = parse_dpkg_query(out)  # dpkg-query exits 1 when some are unknown: expected
        return {name: installed.get(name) for name in sorted(names)}

    def holds(self):
        rc, out, err = self.run(["apt-mark", "showhold"])
        if rc != 0:
            raise RuntimeError(f"apt-mark showhold failed: {err.strip()}")
        return sorted(_lines(out))

    def php(self):
        php = self.which("php")
        if not php:
            return None
        (rc, version, err), (_, modules, _) = self.run_all([php, "-r", "echo PHP_VERSION;"], [php, "-m"])
        if rc != 0:
            raise RuntimeError(f"php -r failed: {err.strip()}")
        return {"version": version.strip(), "extensions": parse_php_modules(modules)}

    def apache(self):
        binary, ctl = self.which("apache2"), self.which("apache2ctl")
        if not binary or not ctl:
            return None
        # apache2ctl reads /etc/apache2/envvars; the bare binary would not find its config.
        (_, version, _), (_, modules, _) = self.run_all([ctl, "-v"], [ctl, "-M"])
        return {"version": parse_apache_version(version), "modules": parse_apache_modules(modules)}

    def mariadb(self):
        binary = self.which("mariadbd") or self.which("mysqld") or self.which("mariadb")
        if not binary:
            return None
        _, out, _ = self.run([binary, "--version"])
        return {"version": parse_mariadb_version(out)}

    def haproxy(self):
        binary = self.which("haproxy")
        if not binary:
            return None
        _, out, _ = self.run([binary, "-v"])
        return {"version": parse_haproxy_version(out)}

    def services(self, names):
        if not names:
            return {}
        names = sorted(names)
        _, out, _ = self.run(["systemctl", "show", "-p", "Id,ActiveState,UnitFileState",
                              *[f"{n}.service" for n in names]])
        states = parse_systemctl_show(out)
        if len(states) != len(names):  # no systemd answering: say so per service
            states = [{"active": "unknown", "enabled": "unknown"}] * len(names)
        return dict(zip(names, states))

    def gather(self, packages=(), services=(), runtimes=RUNTIMES, holds=True):
        """Every fact at once; a runtime not in `runtimes` (and the holds, with holds=False) is None.
        A probe that fails raises its error here, once every probe has finished."""
        probes = {"packages": lambda: self.packages(packages), "services": lambda: self.services(services)}
        if holds:
            probes["holds"] = self.holds
        probes.update((runtime, getattr(self, runtime)) for runtime in RUNTIMES if runtime in runtimes)
        with ThreadPoolExecutor(max_workers=len(probes)) as pool:
            running = {name: pool.submit(probe) for name, probe in probes.items()}
        facts = {"packages": None, "holds": None, "services": None, **dict.fromkeys(RUNTIMES)}
        facts.update((name, future.result()) for name, future in running.items())
        return facts
