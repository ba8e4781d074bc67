"""A whole environment: containers as the inventory declares them, HAProxy balancing on /healthz."""
import json
import os
import subprocess
import time
import urllib.error
import urllib.request

import testinfra
from deploy_testing import build_variant
from stackguard_testing import pinned_packages, run_playbook, stack_manifest

testinfra_hosts = ["ansible://lb1"]
LB_URL = "http://127.0.0.1:18080"
WEB_HOSTS = ("web1", "web2")
ADMIN_SOCKET = "/run/haproxy/admin.sock"


def other_host(name):
    return testinfra.get_host(f"ansible://{name}",
                              ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


def docker_inspect(kind, name):
    out = subprocess.run(["docker", kind, "inspect", name], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)[0]


def backend_stats(host):
    """HAProxy's `show stat` for the web backend's servers, read through the admin socket."""
    script = ("import socket,sys\ns=socket.socket(socket.AF_UNIX);s.connect(sys.argv[1])\n"
              "s.sendall(b'show stat\\n');d=b''\nwhile True:\n c=s.recv(65536)\n if not c: break\n"
              " d+=c\nprint(d.decode())")
    lines = host.check_output("python3 -c %s %s", script, ADMIN_SOCKET).splitlines()
    header = lines[0].lstrip("# ").split(",")
    rows = [dict(zip(header, line.split(","))) for line in lines[1:] if line]
    return {r["svname"]: r for r in rows if r["pxname"] == "web" and r["svname"] in WEB_HOSTS}


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def wait_for_status(host, server, status, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if backend_stats(host)[server]["status"] == status:
            return True
        time.sleep(0.5)
    return False


def test_each_host_is_a_container_at_its_declared_address(host):
    variables = host.ansible.get_variables()
    network = docker_inspect("network", variables["local_containers_network"])
    assert [c["Subnet"] for c in network["IPAM"]["Config"]] == variables["stackguard_networks"]
    for name in ("lb1", "web1", "web2", "db1"):
        container = docker_inspect("container", f"sg-mol-env-{name}")
        address = container["NetworkSettings"]["Networks"][variables["local_containers_network"]]
        assert address["IPAddress"] == other_host(name).ansible.get_variables()["stackguard_address"]
        assert container["Config"]["Labels"]["org.stackguard.environment"] == "molecule-environment"
        assert container["Config"]["Image"] == "stackguard/debian-systemd:bullseye"
        assert other_host(name).check_output("cat /proc/1/comm") == "systemd"


def test_haproxy_is_the_pinned_build_with_a_valid_configuration(host):
    for package, version in pinned_packages(host).items():
        assert host.check_output("dpkg-query -W -f '${Status} ${Version}' %s",
                                 package) == f"hold ok installed {version}"
    assert stack_manifest(host)["runtime"]["haproxy"] in host.check_output("haproxy -v")
    host.run_expect([0], "haproxy -c -f /etc/haproxy/haproxy.cfg")
    assert host.service("haproxy").is_running and host.service("haproxy").is_enabled


def test_both_web_hosts_are_up_and_share_the_traffic(host):
    before = backend_stats(host)
    assert {s: before[s]["status"] for s in WEB_HOSTS} == {"web1": "UP", "web2": "UP"}
    statuses = [get(f"{LB_URL}/healthz") for _ in range(20)]
    assert statuses == [200] * 20
    after = backend_stats(host)
    for server in WEB_HOSTS:
        assert int(after[server]["stot"]) > int(before[server]["stot"]), server


def test_a_failing_web_host_leaves_rotation_without_a_failed_request_and_comes_back(host):
    web2 = other_host("web2")
    web2.run_expect([0], "systemctl stop apache2")
    try:
        statuses = []
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            statuses.append(get(f"{LB_URL}/"))
            time.sleep(0.1)
        assert wait_for_status(host, "web2", "DOWN")
        assert statuses and set(statuses) == {200}, statuses
    finally:
        web2.run_expect([0], "systemctl start apache2")
    assert wait_for_status(host, "web2", "UP")
    assert get(f"{LB_URL}/healthz") == 200


def test_a_stack_the_deployed_release_cannot_run_is_refused_before_any_host_changes(host, tmp_path):
    # Release 1.1.0 runs only on PHP 7.4, like the code that broke in the outage.
    deployed = run_playbook("deploy.yml", "all", "-e", build_variant(tmp_path, "1.1.0", php="~7.4.0"))
    assert deployed.returncode == 0, deployed.stdout[-3000:]
    web1 = other_host("web1")
    before = (web1.check_output("dpkg-query -W -f '${Version}' php7.4-cli"),
              web1.file("/etc/apt/preferences.d/stackguard-stack.pref").sha256sum)
    upgrade = json.dumps({"stackguard_stack": {"name": "php82-apache24", "revision": 1}})
    result = run_playbook("provision-stack.yml", "all", "-e", upgrade)
    assert result.returncode != 0
    assert ("release 1.1.0 is not compatible with molecule-environment (stack php82-apache24@1): "
            "requires php ~7.4.0, molecule-environment pins php 8.2.32") in result.stdout
    assert "Install the stack's packages" not in result.stdout
    assert (web1.check_output("dpkg-query -W -f '${Version}' php7.4-cli"),
            web1.file("/etc/apt/preferences.d/stackguard-stack.pref").sha256sum) == before


def set_agent_state(name, state):
    """What release_switch does: the word the host's lb agent answers, written with one rename."""
    other_host(name).run_expect([0], "sh -c %s", f"echo {state} > /run/stackguard/lb-agent/.s && "
                                                 f"mv /run/stackguard/lb-agent/.s /run/stackguard/lb-agent/state")


def test_each_web_host_drains_itself_through_its_lb_agent_and_comes_back(host):
    for name in WEB_HOSTS:
        web = other_host(name)
        assert web.service("stackguard-lb-agent").is_running and web.service("stackguard-lb-agent").is_enabled
        assert web.process.filter(user="stackguard-lb-agent")  # not root
        assert backend_stats(host)[name]["status"] == "UP"
    try:
        set_agent_state("web1", "drain")
        assert wait_for_status(host, "web1", "DRAIN (agent)", seconds=5)
        # A drained host takes no new request: every one goes to web2 (HAProxy's session counts).
        before = {name: int(row["stot"]) for name, row in backend_stats(host).items()}
        assert [get(f"{LB_URL}/healthz") for _ in range(10)] == [200] * 10
        after = {name: int(row["stot"]) for name, row in backend_stats(host).items()}
        assert (after["web1"] - before["web1"], after["web2"] - before["web2"]) == (0, 10)
        # The agent recorded that the balancer applied the word (release_switch waits for this).
        lb_address = host.ansible.get_variables()["stackguard_address"]
        assert other_host("web1").file(f"/run/stackguard/lb-agent/polled.{lb_address}").content_string == "drain\n"
    finally:
        set_agent_state("web1", "ready")
    assert wait_for_status(host, "web1", "UP", seconds=5)
