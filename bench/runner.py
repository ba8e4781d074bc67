"""Running things for the bench: timed Ansible runs (with the timeline callback), the inventory,
release artifacts, a watcher of each web host's `current` symlink, and a container memory sampler.
"""
import bisect
import configparser
import glob
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
APP_ROOT = "/srv/stackguard-app"


class BenchError(Exception):
    """A step of the bench did not go as it must; the message says which and shows its output."""


def ansible_env(timeline=None, extra=None):
    """The environment of an Ansible run: the repo's ansible.cfg, and the timeline callback when
    `timeline` names its JSON lines file."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if timeline:
        enabled = [name for name in env.get("ANSIBLE_CALLBACKS_ENABLED", "").split(",") if name.strip()]
        env["ANSIBLE_CALLBACKS_ENABLED"] = ",".join(enabled + ["stackguard_timeline"])
        env["STACKGUARD_TIMELINE_LOG"] = timeline
    env.update(extra or {})
    return env


def timed(argv, ok=True, timeline=None, what=None, log=None):
    """Run `argv` from the repo root; its wall seconds. BenchError when it fails (or, with
    ok=False, when it does not fail). `log` names a file its output is appended to."""
    if timeline and os.path.exists(timeline):
        os.unlink(timeline)
    start = time.monotonic()
    result = subprocess.run(argv, cwd=REPO, env=ansible_env(timeline), capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"$ {' '.join(argv)}\n{result.stdout}{result.stderr}(exit {result.returncode}, "
                         f"{elapsed:.1f} s)\n\n")
    if (result.returncode == 0) != ok:
        name = what or " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(argv[:3]))
        raise BenchError(f"{name} {'failed' if ok else 'did not fail as it must'} "
                         f"(exit {result.returncode}):\n{result.stdout[-4000:]}{result.stderr[-2000:]}")
    return elapsed


def playbook(path, *extra, inventory=None, forks=None, ok=True, timeline=None, log=None):
    argv = [os.path.join(BIN, "ansible-playbook"), os.path.join(REPO, path)]
    if inventory:
        argv += ["-i", inventory]
    if forks:
        argv += ["--forks", str(forks)]
    return timed(argv + list(extra), ok=ok, timeline=timeline, what=path, log=log)


def adhoc(pattern, module, args=None, inventory=None, forks=None):
    argv = [os.path.join(BIN, "ansible"), pattern, "-m", module]
    if args:
        argv += ["-a", args]
    if inventory:
        argv += ["-i", inventory]
    if forks:
        argv += ["--forks", str(forks)]
    return timed(argv, what=f"ansible {pattern} -m {module}")


def configured_forks():
    """forks from the repo's ansible.cfg (Ansible's default, 5, when it sets none)."""
    parser = configparser.ConfigParser()
    parser.read(os.path.join(REPO, "ansible.cfg"))
    return int(os.environ.get("ANSIBLE_FORKS") or parser.get("defaults", "forks", fallback="5"))


def inventory(path):
    """{groups: {name: [hosts]}, hostvars: {host: vars}} of an inventory, as Ansible reads it."""
    result = subprocess.run([os.path.join(BIN, "ansible-inventory"), "-i", path, "--list"], cwd=REPO,
                            env=ansible_env(), capture_output=True, text=True)
    if result.returncode != 0:
        raise BenchError(f"cannot read the inventory {path}:\n{result.stderr[-2000:]}")
    data = json.loads(result.stdout)
    groups = {}

    def walk(group):
        members = list(data.get(group, {}).get("hosts", []))
        for child in data.get(group, {}).get("children", []):
            members += [host for host in walk(child) if host not in members]
        groups[group] = members
        return members

    walk("all")
    return {"groups": groups, "hostvars": data.get("_meta", {}).get("hostvars", {})}


def missing_containers(inv):
    """Hosts of an inventory (from `inventory()`) reached with `docker exec` whose container is not
    running: {host: container}."""
    missing = {}
    for host in inv["groups"].get("all", []):
        hostvars = inv["hostvars"].get(host, {})
        if not str(hostvars.get("ansible_connection", "")).endswith("docker"):
            continue
        container = hostvars.get("ansible_host", host)
        state = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", container], capture_output=True,
                               text=True).stdout.strip()
        if state != "true":
            missing[host] = container
    return missing


def _build_release_module():
    spec = importlib.util.spec_from_file_location("build_release", os.path.join(REPO, "tools", "build_release.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def release(tmp, version, index_code=None):
    """Build the app as release `version` (with `index_code` prepended to public/index.php, to
    break it on purpose); the -e argument naming it as stackguard_app_release."""
    source = os.path.join(tmp, f"app-{version}")
    shutil.copytree(os.path.join(REPO, "app"), source)
    if index_code:
        path = os.path.join(source, "public", "index.php")
        marker = "declare(strict_types=1);\n"
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        if marker not in text:
            raise BenchError(f"{path} has no {marker.strip()!r} line to put the failing code after")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text.replace(marker, marker + index_code + "\n", 1))
    artifact, digest = _build_release_module().build(source, "stackguard-app", version, os.path.join(tmp, "out"))
    return json.dumps({"stackguard_app_release": {"version": version, "artifact": artifact, "sha256": digest}})


def failing_after_switch(host):
    """PHP that makes the live site (port 80) of `host` answer /healthz with 503, while its preview
    site (the candidate check) and every other host stay healthy: a release that fails only after
    its switch."""
    return (f"if (gethostname() === '{host}' && ($_SERVER['SERVER_PORT'] ?? '') === '80'"
            " && parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH) === '/healthz') {"
            " http_response_code(503); exit; }")


# The watcher's loop inside a container: one process that reads the link every 50 ms (a shell
# loop would fork readlink and sleep 40 times a second on the very hosts the bench measures).
WATCH_SCRIPT = """
import os, sys, time
root, stop, end = sys.argv[1], sys.argv[2], time.time() + float(sys.argv[3])
def remove_stop():
    try:
        os.remove(stop)
    except FileNotFoundError:
        pass
remove_stop()
last = None
while not os.path.exists(stop) and time.time() < end:
    try:
        now = os.readlink(os.path.join(root, "current"))
    except OSError:
        now = ""
    if now != last:
        print(time.time(), os.path.basename(now), flush=True)
        last = now
    time.sleep(0.05)
remove_stop()
"""


class CurrentWatcher:
    """Records every change of `<root>/current` on each container, with its time.

    One `docker exec` per container runs WATCH_SCRIPT, which prints `<epoch seconds> <version>`
    whenever the link changes (containers share the host's clock, so the times compare with
    time.time()). The loop ends when its stop file appears or after `max_seconds`, since killing
    the docker client would not stop it inside the container. `exec_prefix(container)` is the
    argv that runs a command in a container (a local run in the tests).
    """

    def __init__(self, containers, root=APP_ROOT, max_seconds=7200,
                 exec_prefix=lambda container: ["docker", "exec", container]):
        self.containers, self.root, self.max_seconds = dict(containers), root, max_seconds
        self.exec_prefix = exec_prefix
        self.events = {host: [] for host in self.containers}
        self._stop = f"/tmp/.stackguard-bench-watch-{os.getpid()}"
        self._processes, self._threads = [], []

    def _command(self, container):
        return [*self.exec_prefix(container), "python3", "-c", WATCH_SCRIPT, self.root, self._stop,
                str(self.max_seconds)]

    def _read(self, host, process):
        for line in process.stdout:
            moment, _, version = line.strip().partition(" ")
            try:
                self.events[host].append((float(moment), version))
            except ValueError:
                continue

    def start(self):
        for host, container in self.containers.items():
            process = subprocess.Popen(self._command(container), stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, text=True)
            thread = threading.Thread(target=self._read, args=(host, process), daemon=True)
            thread.start()
            self._processes.append(process)
            self._threads.append(thread)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(self.events.values()):
            time.sleep(0.05)
        if not all(self.events.values()):
            self.stop()
            missing = [host for host, events in self.events.items() if not events]
            raise BenchError(f"cannot read {self.root}/current on {', '.join(missing)} (is the environment up?)")
        return self

    def stop(self):
        for container in self.containers.values():
            subprocess.run([*self.exec_prefix(container), "touch", self._stop], capture_output=True)
        for process in self._processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        for thread in self._threads:
            thread.join(timeout=5)

    def serving(self):
        """{host: version} now (the last change seen)."""
        return {host: events[-1][1] if events else None for host, events in self.events.items()}

    def changes(self, since, until=None):
        """[{host, time, version}] between two moments, in time order."""
        found = [{"host": host, "time": moment, "version": version}
                 for host, events in self.events.items() for moment, version in events
                 if moment >= since and (until is None or moment <= until)]
        return sorted(found, key=lambda change: change["time"])

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def failover_seconds(events, failing_host, bad, previous):
    """From the moment `failing_host` serves `bad` to the first moment every host serves `previous`.

    `events` is {host: [(time, version)]} in time order (CurrentWatcher.events); None when it never
    happened (no switch to `bad`, or some host never came back)."""
    switched = [moment for moment, version in events.get(failing_host, []) if version == bad]
    if not switched:
        return None
    start = switched[0]
    state = {}
    for host, changes in events.items():
        before = [version for moment, version in changes if moment <= start]
        state[host] = before[-1] if before else None
    merged = sorted((moment, host, version) for host, changes in events.items()
                    for moment, version in changes if moment > start)
    for moment, host, version in merged:
        state[host] = version
        if all(value == previous for value in state.values()):
            return moment - start
    return None


def machine_cpu_seconds():
    """CPU seconds this machine's CPUs have been busy since boot (/proc/stat: all but idle and
    iowait)."""
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [int(value) for value in handle.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


# Where a container's cgroup sits under cgroup v2, by Docker's cgroup driver (systemd, cgroupfs);
# `{id}` is the container id, or `*` for every container. Under v1 each controller has its own tree.
CGROUP_V2_CONTAINER = ("/sys/fs/cgroup/system.slice/docker-{id}.scope", "/sys/fs/cgroup/docker/{id}")


def containers_cpu_seconds():
    """CPU seconds every Docker container has used, from the cgroups (v1: docker/cpuacct.usage;
    v2: each container's cpu.stat); None when neither is there."""
    v1 = "/sys/fs/cgroup/cpuacct/docker/cpuacct.usage"
    if os.path.exists(v1):
        with open(v1, encoding="ascii") as handle:
            return int(handle.read()) / 1e9
    stats = next((found for pattern in CGROUP_V2_CONTAINER
                  if (found := glob.glob(os.path.join(pattern.format(id="*"), "cpu.stat")))), [])
    if not stats:
        return None
    total = 0
    for path in stats:
        with open(path, encoding="ascii") as handle:
            total += next((int(line.split()[1]) for line in handle if line.startswith("usage_usec ")), 0)
    return total / 1e6


class CpuMeter:
    """Where the CPU time of a step went: `controller` (the processes this one ran and waited for:
    ansible-playbook, its workers, the docker clients), `containers` (every container) and `rest`
    (the rest of the machine: dockerd, containerd and runc starting each `docker exec`, and
    anything else running). Seconds, in `seconds` once the block ends."""

    def __enter__(self):
        self._start = self._read()
        return self

    def __exit__(self, *exc):
        end = self._read()
        controller = end["controller"] - self._start["controller"]
        containers = (None if end["containers"] is None or self._start["containers"] is None
                      else end["containers"] - self._start["containers"])
        machine = end["machine"] - self._start["machine"]
        self.seconds = {"controller": controller, "containers": containers,
                        "rest": max(0.0, machine - controller - (containers or 0.0))}
        return False

    @staticmethod
    def _read():
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {"controller": usage.ru_utime + usage.ru_stime, "containers": containers_cpu_seconds(),
                "machine": machine_cpu_seconds()}


class CpuSampler:
    """The machine's busy CPU seconds (machine_cpu_seconds) every `interval` seconds, stamped with
    time.time() like the timeline's lines, so a span of a run can be told apart: `busy(start, end)`
    is the CPU seconds used in it, `share(intervals)` the part of the machine's CPUs they kept busy
    (1.0: every CPU busy the whole time, the run waited on this machine, not on round trips)."""

    def __init__(self, interval=0.1):
        self.interval, self.samples = interval, []
        self._stop, self._thread = threading.Event(), None

    def sample(self):
        self.samples.append((time.time(), machine_cpu_seconds()))

    def _run(self):
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self):
        self.sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()
        return False

    def _at(self, moment):
        """Busy seconds at `moment`, linear between the samples around it (clamped to the ends)."""
        samples = self.samples
        if not samples:
            raise BenchError("the CPU sampler has no samples: use it as a context manager")
        index = bisect.bisect_left(samples, (moment,))
        if index == 0:
            return samples[0][1]
        if index == len(samples):
            return samples[-1][1]
        (t0, b0), (t1, b1) = samples[index - 1], samples[index]
        return b0 + (b1 - b0) * (moment - t0) / (t1 - t0) if t1 > t0 else b1

    def busy(self, start, end):
        return max(0.0, self._at(end) - self._at(start))

    def share(self, intervals, cpus=None):
        """The busy share of the machine's CPUs over the intervals [(start, end)], or None when
        they last no time."""
        seconds = sum(end - start for start, end in intervals)
        if seconds <= 0:
            return None
        return sum(self.busy(start, end) for start, end in intervals) / ((cpus or os.cpu_count()) * seconds)


class MemorySampler:
    """Samples the memory of a set of containers (as `docker stats` counts it: usage less inactive
    file cache, from the cgroup files) every `interval` seconds, and the host's MemAvailable.
    Keeps the peak per container and the peak of their sum at one moment."""

    def __init__(self, containers, interval=0.5):
        self.containers, self.interval = list(containers), interval
        self.peak, self.peak_total, self.min_available = {}, 0, None
        self._paths, self._stop, self._thread = {}, threading.Event(), None

    @staticmethod
    def _cgroup_dir(container_id):
        for pattern in (f"/sys/fs/cgroup/memory/docker/{container_id}",  # cgroup v1
                        *(v2.format(id=container_id) for v2 in CGROUP_V2_CONTAINER)):
            if glob.glob(pattern):
                return pattern
        return None

    def watch(self, containers):
        """Add containers (a fleet that grew)."""
        for name in containers:
            if name not in self.containers:
                self.containers.append(name)

    def _resolve(self, name):
        if name not in self._paths:
            result = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", name], capture_output=True, text=True)
            self._paths[name] = self._cgroup_dir(result.stdout.strip()) if result.returncode == 0 else None
        return self._paths[name]

    @staticmethod
    def _read_usage(directory):
        def number(name):
            with open(os.path.join(directory, name), encoding="ascii") as handle:
                return int(handle.read().split()[0])

        def stat(keys):
            with open(os.path.join(directory, "memory.stat"), encoding="ascii") as handle:
                values = dict(line.split() for line in handle if line.strip())
            for key in keys:
                if key in values:
                    return int(values[key])
            return 0

        if os.path.exists(os.path.join(directory, "memory.usage_in_bytes")):  # v1
            return number("memory.usage_in_bytes") - stat(("total_inactive_file", "inactive_file"))
        return number("memory.current") - stat(("inactive_file",))  # v2

    def sample(self):
        total = 0
        for name in list(self.containers):
            directory = self._resolve(name)
            if directory is None:
                continue
            try:
                used = self._read_usage(directory)
            except (OSError, ValueError):
                continue
            total += used
            self.peak[name] = max(self.peak.get(name, 0), used)
        self.peak_total = max(self.peak_total, total)
        try:
            with open("/proc/meminfo", encoding="ascii") as handle:
                for line in handle:
                    if line.startswith("MemAvailable:"):
                        available = int(line.split()[1]) * 1024
                        self.min_available = available if self.min_available is None else min(
                            self.min_available, available)
        except OSError:
            pass

    def _run(self):
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self):
        self.sample()
        if not any(self._resolve(name) for name in self.containers):
            raise BenchError("cannot read any container's memory from /sys/fs/cgroup (cgroup v1 or v2 expected)")
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def reset(self):
        self.peak, self.peak_total, self.min_available = {}, 0, None

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def report(self):
        mib = 1024 * 1024
        largest = max(self.peak.items(), key=lambda item: item[1]) if self.peak else (None, 0)
        return {"containers": len(self.peak), "peak_total_mib": round(self.peak_total / mib, 1),
                "peak_container": largest[0], "peak_container_mib": round(largest[1] / mib, 1),
                "host_min_available_mib": None if self.min_available is None else round(self.min_available / mib),
                "interval_s": self.interval,
                "peaks_mib": {name: round(value / mib, 1) for name, value in sorted(self.peak.items())}}
