"""playbooks/dev-environment.yml for real: build, serve, verify, drift, remove.

One module-scoped run of the real playbook (as `make dev` runs it) builds the images of the local
inventory's pinned stack with the production roles, runs sg-dev-web and sg-dev-db, and serves
app/ at http://127.0.0.1:8090/. The tests then look at what a developer gets: /healthz answers
with the app's version and the database, the app works end to end (an account and a message
written to MariaDB and read back), the docroot is the mounted source, a second run changes
nothing and rebuilds nothing, `dev_state=verified` (`make dev-verify`) passes, then fails on drift
injected behind Ansible's back, and `dev_state=absent` removes the containers and the network.

It uses the dev environment's own names (sg-dev-*, stackguard-dev, port 8090), so it refuses to
run over a developer's running dev environment instead of destroying it, and two runs of it on one
machine (engineers sharing it) take turns through a lock file instead of fighting over them. Images it built are
removed at the end; images that were there before are reused and kept. Skipped only without a
Docker engine.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"
PLAYBOOK = "playbooks/dev-environment.yml"
URL = "http://127.0.0.1:8090/"
WEB, DB, NETWORK = "sg-dev-web", "sg-dev-db", "stackguard-dev"
PIN = yaml.safe_load((REPO / "inventories/local/group_vars/all/vars.yml").read_text())["stackguard_stack"]
MANIFEST = yaml.safe_load((REPO / "stacks" / f"{PIN['name']}.yml").read_text())
TAG = f"{PIN['name']}-r{PIN['revision']}"
IMAGES = (f"stackguard/dev:{TAG}", f"stackguard/dev-db:{TAG}")
LOCK = Path("/tmp/stackguard-test-dev-environment.lock")
RECAP = re.compile(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def _docker_works():
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


pytestmark = pytest.mark.skipif(not _docker_works(), reason="no Docker engine to run the dev environment in")


def docker(*args, check=True):
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {proc.stderr}")
    return proc


def exists(kind, name):
    return docker(kind, "inspect", name, check=False).returncode == 0


def image_id(name):
    return docker("image", "inspect", "-f", "{{.Id}}", name).stdout.strip()


def playbook(*extra):
    """Run the dev environment playbook as `make dev` does; (rc, output, seconds)."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    start = time.monotonic()
    proc = subprocess.run([str(BIN / "ansible-playbook"), PLAYBOOK, *extra], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start


def recap(output):
    """host -> (changed, unreachable, failed) from the PLAY RECAP."""
    return {host: tuple(map(int, counts)) for host, *counts in RECAP.findall(output)}


def http(path, body=None, method=None):
    request = urllib.request.Request(URL + path.lstrip("/"), method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"} if body is not None else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module")
def turn():
    """This machine's one run of these tests at a time (waits for another one to finish)."""
    with LOCK.open("w") as handle:
        start = time.monotonic()
        fcntl.flock(handle, fcntl.LOCK_EX)
        waited = time.monotonic() - start
        if waited > 1:
            print(f"\nwaited {waited:.0f} s for another run of the dev environment tests")
        yield


@pytest.fixture(scope="module")
def dev(turn):
    """The dev environment, up; removed afterwards with images this run built."""
    running = [name for name in (WEB, DB) if exists("container", name)]
    if running:
        pytest.fail(f"{', '.join(running)} exist: a developer's dev environment is running and this test "
                    f"would replace it. Remove it first: ansible-playbook {PLAYBOOK} -e dev_state=absent")
    base = f"stackguard/debian-systemd:{MANIFEST['os']['release']}"
    if not exists("image", base):
        pytest.fail(f"{base} is missing: build it with `make setup`")
    prebuilt = {name for name in IMAGES if exists("image", name)}
    rc, output, seconds = playbook()
    print(f"\ndev environment up in {seconds:.0f} s (images {'reused' if prebuilt else 'built'})")
    try:
        yield {"rc": rc, "output": output, "seconds": seconds, "prebuilt": prebuilt}
    finally:
        playbook("-e", "dev_state=absent")
        for name in set(IMAGES) - prebuilt:
            docker("image", "rm", name, check=False)


@pytest.fixture(scope="module")
def healthz(dev):
    assert dev["rc"] == 0, dev["output"]
    status, body = http("/healthz")
    assert status == 200, body
    return json.loads(body)


@pytest.mark.parametrize("stack, refusal", [
    ("php74", "stack 'php74' is refused: write <name>@<revision>"),
    ("nosuchenv", "stack 'nosuchenv' is refused: write <name>@<revision>"),
    (f"{PIN['name']}@99", f"the inventory pins {PIN['name']} revision 99, but the file holds revision"),
])
def test_a_bad_stack_is_refused_before_anything_is_built(turn, stack, refusal):
    rc, output, _ = playbook("-e", f"stack={stack}")
    assert rc != 0
    assert refusal in " ".join(output.split()), output
    # Refused while loading the stack: no image was looked at, no container started.
    assert "TASK [dev_environment : Read the labels of the stack images]" not in output
    assert re.search(r"^localhost\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=1\b", output, re.M), output


def test_make_dev_prints_the_url(dev):
    assert dev["rc"] == 0, dev["output"]
    assert f"The app answers at {URL}" in dev["output"]
    assert f"in sync with {PIN['name']}@{PIN['revision']}" in dev["output"]


def test_images_are_labelled_with_the_manifest_digest(dev):
    lock = yaml.safe_load((REPO / "stacks" / "stacks.lock").read_text())
    for name in IMAGES:
        labels = json.loads(docker("image", "inspect", "-f", "{{json .Config.Labels}}", name).stdout)
        assert labels["org.stackguard.stack"] == PIN["name"]
        assert labels["org.stackguard.stack-revision"] == str(PIN["revision"])
        assert labels["org.stackguard.stack-digest"] == lock[PIN["name"]][PIN["revision"]]


def test_healthz_answers_with_the_apps_version_and_the_database(healthz):
    release_json = REPO / "app" / "release.json"
    expected = json.loads(release_json.read_text())["version"] if release_json.exists() else "dev"
    assert healthz["status"] == "ok"
    assert healthz["release"] == expected
    assert healthz["php"] == MANIFEST["runtime"]["php"]
    assert healthz["db"]["reachable"] is True
    assert healthz["db"]["server"].startswith(MANIFEST["runtime"]["mariadb"] + "-MariaDB")
    assert healthz["schema"]["current"] is True
    assert healthz["schema"]["version"] == len(list((REPO / "app" / "migrations").glob("*.sql")))


def test_the_app_writes_to_and_reads_from_the_dev_database(healthz):
    user = f"dev{int(time.time() * 1000) % 10**9}"
    password = "correct horse battery"
    assert http("/api/accounts", {"username": user, "password": password})[0] == 201
    assert http("/api/messages", {"from": user, "password": password, "to": user, "body": "hello"})[0] == 201
    status, body = http(f"/api/messages?user={user}&password={password.replace(' ', '%20')}")
    assert status == 200
    assert [m["body"] for m in json.loads(body)] == ["hello"]
    rows = docker("exec", DB, "mariadb", "-N", "-e",
                  f"SELECT COUNT(*) FROM stackguard.users WHERE username = '{user}'").stdout.strip()
    assert rows == "1"


def test_the_docroot_is_the_mounted_source(healthz):
    status, body = http("/assets/app.css")
    assert status == 200
    assert body == (REPO / "app" / "public" / "assets" / "app.css").read_bytes()
    mounts = json.loads(docker("inspect", "-f", "{{json .Mounts}}", WEB).stdout)
    app = [m for m in mounts if m["Destination"] == "/srv/stackguard-app/current"]
    assert app and Path(app[0]["Source"]) == (REPO / "app").resolve() and app[0]["RW"] is False


def test_a_second_run_changes_nothing_and_rebuilds_nothing(healthz):
    before = {name: image_id(name) for name in IMAGES}
    rc, output, seconds = playbook()
    print(f"\nsecond run in {seconds:.0f} s")
    assert rc == 0, output
    counts = recap(output)
    assert set(counts) >= {"localhost", WEB, DB}, output
    assert {host: c for host, c in counts.items() if c != (0, 0, 0)} == {}, output
    assert {name: image_id(name) for name in IMAGES} == before


def test_dev_verify_passes_then_fails_on_drift(healthz):
    rc, output, _ = playbook("-e", "dev_state=verified")
    assert rc == 0, output
    assert f"{WEB}: in sync with {PIN['name']}@{PIN['revision']}" in output
    assert f"{DB}: in sync with {PIN['name']}@{PIN['revision']}" in output

    # Behind Ansible's back: a pinned package loses its hold, a pinned extension is disabled.
    php = MANIFEST["php"]["version"]
    docker("exec", WEB, "apt-mark", "unhold", f"php{php}-intl")
    docker("exec", WEB, "phpdismod", "-v", php, "-s", "ALL", "intl")
    rc, output, _ = playbook("-e", "dev_state=verified")
    assert rc != 0, output
    assert f"1 of 2 hosts drift: {WEB} (hold php{php}-intl, extension intl)" in output
    assert f"{DB}: in sync with {PIN['name']}@{PIN['revision']}" in output


def test_dev_state_absent_removes_the_environment(healthz):
    rc, output, _ = playbook("-e", "dev_state=absent")
    assert rc == 0, output
    assert not exists("container", WEB) and not exists("container", DB)
    assert not exists("network", NETWORK)
    # The images stay for the next `make dev`.
    assert all(exists("image", name) for name in IMAGES)
    rc, output, _ = playbook("-e", "dev_state=verified")
    assert rc != 0
    assert f"{WEB} is not running" in output
