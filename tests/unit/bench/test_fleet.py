"""bench/fleet.py: the generated inventory, read back by the real ansible-inventory, and its limits."""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path

import pytest

from bench import fleet, runner

REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.skipif(not (REPO / ".venv" / "bin" / "ansible-inventory").exists(),
                                reason="the toolchain is not installed (make toolchain)")


def test_generated_inventory_as_ansible_reads_it(tmp_path):
    path = fleet.write_inventory(str(tmp_path / "inventory"), 16, "1.0.0", "/srv/artifacts/app-1.0.0.tar.gz")
    found = runner.inventory(path)
    assert found["groups"]["lb"] == ["lb1"] and found["groups"]["db"] == ["db1"]
    assert found["groups"]["backup"] == ["backup1"]
    assert found["groups"]["web"] == [f"web{n}" for n in range(1, 17)]
    hostvars = found["hostvars"]
    addresses = [hostvars[host]["stackguard_address"] for host in found["groups"]["all"]]
    assert len(set(addresses)) == 19
    subnet = ipaddress.ip_network(fleet.SUBNET)
    assert all(ipaddress.ip_address(address) in subnet for address in addresses)
    web9 = hostvars["web9"]
    assert web9["ansible_host"] == "sg-bench-web9" and web9["ansible_connection"] == "community.docker.docker"
    assert web9["stackguard_environment"] == "bench-fleet"
    assert web9["stackguard_stack"] == {"name": "php74-apache24", "revision": 1}
    assert web9["stackguard_networks"] == ["172.29.97.0/24"]
    assert web9["local_containers_prefix"] == "sg-bench-" and web9["local_containers_network"] == "stackguard-bench"
    assert web9["local_containers_published_ports"] == {"lb1": ["127.0.0.1:18097:80"]}
    assert web9["stackguard_app_release"]["artifact"] == "/srv/artifacts/app-1.0.0.tar.gz"


def test_growing_rewrites_the_inventory(tmp_path):
    directory = str(tmp_path / "inventory")
    fleet.write_inventory(directory, 8, "1.0.0", "/a.tar.gz")
    path = fleet.write_inventory(directory, 2, "1.0.0", "/a.tar.gz")
    assert runner.inventory(path)["groups"]["web"] == ["web1", "web2"]


def test_addresses_and_their_limit():
    assert fleet.address("lb1") == "172.29.97.10" and fleet.address("db1") == "172.29.97.11"
    assert fleet.address("backup1") == "172.29.97.12"
    assert fleet.address("web1") == "172.29.97.101" and fleet.address("web150") == "172.29.97.250"
    with pytest.raises(ValueError, match="web hosts 1 to 150"):
        fleet.address("web151")


def test_the_bench_never_touches_other_environments():
    # Its own prefix, network, subnet and port: none of the local environment's or Molecule's.
    assert fleet.PREFIX == "sg-bench-" and fleet.NETWORK == "stackguard-bench"
    local = (REPO / "inventories" / "local" / "group_vars" / "all" / "vars.yml").read_text(encoding="utf-8")
    assert fleet.SUBNET not in local and "18097" not in local


def test_bad_sizes_are_refused_with_the_reason():
    for sizes in ("8,2", "1,8", "2,x"):
        proc = subprocess.run([str(REPO / ".venv" / "bin" / "python"), str(REPO / "bench" / "fleet.py"),
                               "--sizes", sizes], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and "--sizes" in proc.stderr, proc.stderr
    proc = subprocess.run([str(REPO / ".venv" / "bin" / "python"), str(REPO / "bench" / "fleet.py"),
                           "--serials", "1,abc"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "'abc' is not a host count or a percentage" in proc.stderr


def test_inotify_budget_of_this_machine_and_the_refusal():
    limit, used = fleet.inotify_budget()
    assert limit > 0 and 0 <= used
    fleet.check_inotify(0)
    with pytest.raises(runner.BenchError, match=r"max_user_instances=\d+ are in use.*sysctl -w.*nothing was created"):
        fleet.check_inotify(limit)  # as many containers as the limit: never fits


def test_deploy_cpu_is_the_median_by_part_and_per_task_run():
    samples = [{"controller": 2.0, "containers": 4.0, "rest": 1.0},
               {"controller": 3.0, "containers": 6.0, "rest": 0.5},
               {"controller": 2.5, "containers": 5.0, "rest": 0.7}]
    found = fleet.deploy_cpu(samples, [100, 100, 100])
    assert found == {"controller": {"seconds": 2.5, "ms_per_task_run": 25.0},
                     "containers": {"seconds": 5.0, "ms_per_task_run": 50.0},
                     "rest": {"seconds": 0.7, "ms_per_task_run": 7.0}}


def test_deploy_cpu_leaves_out_what_the_machine_cannot_tell():
    found = fleet.deploy_cpu([{"controller": 1.0, "containers": None, "rest": 0.2}], [40])
    assert set(found) == {"controller", "rest"} and found["controller"]["ms_per_task_run"] == 25.0
