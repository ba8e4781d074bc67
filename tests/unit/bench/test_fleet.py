"""bench/fleet.py: the generated inventory, read back by the real ansible-inventory, and its limits."""

from __future__ import annotations

import ipaddress
import os
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


def deploy_line(host, play, run, task_id, start, end):
    return {"host": host, "play": play, "role": None, "task": task_id, "action": "x", "start": start, "end": end,
            "status": "ok", "run": run, "task_id": task_id}


def test_deploy_split_gives_each_part_its_rounds_seconds_and_busy_cpus():
    records = [deploy_line("web1", "Stage", 1, "a", 0.0, 2.0), deploy_line("web2", "Stage", 1, "a", 0.0, 2.0),
               deploy_line("web1", "Switch", 2, "s", 2.0, 3.0), deploy_line("web2", "Switch", 3, "s", 3.0, 4.0)]
    sampler = runner.CpuSampler()
    # Both of 2 CPUs busy while staging (4 CPU seconds in 2 s), one of them while switching.
    sampler.samples = [(0.0, 0.0), (2.0, 4.0), (4.0, 6.0)]
    found = fleet.deploy_split(records, sampler)
    assert found["batches"] == 2
    assert found["once"] == {"rounds": 1, "seconds": 2.0, "cpu_busy": pytest.approx(4.0 / (2.0 * os.cpu_count()))}
    assert found["per_batch"] == {"rounds": 2, "seconds": 2.0,
                                  "cpu_busy": pytest.approx(2.0 / (2.0 * os.cpu_count()))}


def test_median_split_over_rounds():
    one = {"batches": 4, "once": {"rounds": 20, "seconds": 3.0, "cpu_busy": 0.9},
           "per_batch": {"rounds": 4, "seconds": 2.0, "cpu_busy": None}}
    two = {"batches": 4, "once": {"rounds": 20, "seconds": 5.0, "cpu_busy": 0.7},
           "per_batch": {"rounds": 4, "seconds": 1.0, "cpu_busy": None}}
    assert fleet.median_split([one, two]) == {
        "batches": 4, "once": {"rounds": 20, "seconds": 4.0, "cpu_busy": 0.8},
        "per_batch": {"rounds": 4, "seconds": 1.5, "cpu_busy": None}}


def test_the_split_table_shows_the_start_and_each_part(capsys):
    split = {"batches": 4, "once": {"rounds": 20, "seconds": 10.0, "cpu_busy": 0.97},
             "per_batch": {"rounds": 4, "seconds": 3.0, "cpu_busy": None}}
    fleet.print_split([{"web": 16, "runs": [{"serial": "25%", "deploy": {"median": 14.0}, "split": split}]}], 2)
    out = capsys.readouterr().out
    assert "this machine's 2 CPUs" in out
    row = out.splitlines()[-1].split()
    assert row == ["16", "25%", "4", "14.0", "1.0", "20", "10.0", "97%", "4", "3.0", "0.75", "-"]
