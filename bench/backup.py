#!/usr/bin/env python3
"""Benchmark (issue 5): base backup and point-in-time restore times at 10k, 100k and 1M rows, how
they grow with size, and the recovery point the binlog archive interval achieves.

It creates its own two containers with the same roles and pins as every environment
(sg-mol-bak-bench-db1 on php74-apache24's MariaDB 10.5, sg-mol-bak-bench-backup1 the backup host,
on the stackguard-mol-bak network), provisioned by provision-stack.yml, configure-database.yml and
configure-backup.yml. Then, for each size: the app's tables are refilled with N rows (half users,
half messages, with the app's columns), `stackguard-backup base` is timed, 1000 more rows are
written, and `stackguard-backup restore --to <a time after them>` is timed: ship the open binlog,
plan, fetch and verify every file, a fresh scratch instance, load the dump, replay the binlogs.
Last, with the archive timer at --interval seconds, rows are written at random moments and the
time until each is on the backup host is measured: that lag is the recovery point objective.

Figures, not pass/fail. The machine is shared: read them with the load average printed.

usage: bench/backup.py [--sizes 10000,100000,1000000] [--interval 30] [--samples 4] [--keep]
       (about 10 minutes with the default sizes; the containers are removed unless --keep)
"""
import argparse
import calendar
import json
import os
import random
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from bench import runner  # noqa: E402

PREFIX = "sg-mol-bak-bench-"
NETWORK = "stackguard-mol-bak"
SUBNET = "172.29.93.0/24"
DB, BACKUP = f"{PREFIX}db1", f"{PREFIX}backup1"


def inventory(tmp, interval):
    """The bench's own inventory: db1 and backup1, on the backup scenario's network."""
    text = f"""---
all:
  vars:
    stackguard_environment: molecule-backup
    stackguard_stack: {{name: php74-apache24, revision: 1}}
    stackguard_networks: [{SUBNET}]
    database_app_password: bench-only-password
    ansible_connection: community.docker.docker
    local_containers_prefix: {PREFIX}
    local_containers_network: {NETWORK}
    backup_binlog_interval: {interval}
    backup_scratch_buffer_pool_size: 512M
  children:
    db:
      hosts:
        db1: {{ansible_host: {DB}, stackguard_address: 172.29.93.131}}
    backup:
      hosts:
        backup1: {{ansible_host: {BACKUP}, stackguard_address: 172.29.93.141}}
"""
    path = os.path.join(tmp, "hosts.yml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


CREATE = """---
- name: Create the bench's containers
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
    local_containers_hosts: "{{ groups['all'] | difference(['localhost']) }}"
  roles:
    - local_containers
"""


def sh(container, command, stdin=None, check=True):
    result = subprocess.run(["docker", "exec", "-i", container, "sh", "-c", command], input=stdin,
                            capture_output=True, text=True)
    if check and result.returncode != 0:
        raise runner.BenchError(f"{container}: {command}\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return result


def sql(statement):
    return sh(DB, "mariadb -N -B stackguard", stdin=statement).stdout


def backup(*args):
    """stackguard-backup on the bench's db1, timed: (seconds, JSON answer)."""
    start = time.monotonic()
    result = sh(DB, "stackguard-backup " + " ".join(args))
    return time.monotonic() - start, json.loads(result.stdout)


def fill(rows):
    """Empty the app's tables, then rows/2 users and rows/2 messages between them."""
    half = rows // 2
    sql("SET FOREIGN_KEY_CHECKS = 0; TRUNCATE messages; TRUNCATE users; SET FOREIGN_KEY_CHECKS = 1;")
    # 100k at a time: one transaction per batch keeps the binlog events and the undo log small.
    for start in range(1, half + 1, 100_000):
        end = min(half, start + 99_999)
        # Explicit ids: INSERT ... SELECT may leave auto-increment gaps between statements.
        sql(f"INSERT INTO users (id, username, password_hash) SELECT seq, CONCAT('bench-', seq), "
            f"CONCAT('$2y$10$', SHA2(seq, 256)) FROM seq_{start}_to_{end};")
        sql(f"INSERT INTO messages (sender_id, recipient_id, body) SELECT seq, IF(seq = 1, 1, seq - 1), "
            f"CONCAT('message number ', seq, ' with some text in it ✓') FROM seq_{start}_to_{end};")


def human_size(size):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024


def measure_size(rows):
    fill(rows)
    base_seconds, base = backup("base", "--kind", "manual")
    sql("INSERT INTO users (username, password_hash) SELECT CONCAT('late-', seq), 'x' FROM seq_1_to_1000;")
    time.sleep(1.05 - time.time() % 1)
    point = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    restore_seconds, restored = backup("restore", "--to", repr(point))
    expected = rows // 2 + 1000
    if restored["tables"]["users"]["rows"] != expected:
        raise runner.BenchError(f"the restore of {rows} rows holds {restored['tables']['users']['rows']} users, "
                                f"expected {expected}")
    return {"rows": rows, "base_seconds": base_seconds, "dump_bytes": base["dump"]["size"],
            "sql_bytes": base["dump"]["uncompressed_size"], "restore_seconds": restore_seconds,
            "binlogs_replayed": len(restored["plan"]["binlogs"])}


def measure_rpo(interval, samples):
    """Seconds from a commit to its binlog being on the backup host, with the timer alone."""
    lags = []
    for n in range(samples):
        time.sleep(random.uniform(0, interval))
        sql(f"INSERT INTO users (username, password_hash) VALUES ('rpo-{n}-{time.time()}', 'x');")
        committed = time.time()
        deadline = committed + 3 * interval + 60
        while True:
            listing = json.loads(sh(DB, "stackguard-backup list").stdout)
            until = listing["binlogs"]["archived_until"]
            if until and calendar.timegm(time.strptime(until, "%Y-%m-%d %H:%M:%S")) >= int(committed):
                lags.append(time.time() - committed)
                break
            if time.time() > deadline:
                raise runner.BenchError(f"a commit was not archived within {3 * interval + 60} s")
            time.sleep(0.5)
    return lags


def print_report(results, lags, interval, load):
    print(f"\nstackguard backup benchmark (load average at start {load[0]}, at end {os.getloadavg()[0]:.2f})")
    print("MariaDB 10.5.29 (php74-apache24), mariadb-dump | gzip -6, shipped over SSH; restore into a fresh "
          "scratch instance")
    header = (f"{'rows':>10}  {'base backup':>11}  {'dump (gzip)':>11}  {'SQL':>10}  {'PITR restore':>12}  "
              f"{'next 100k rows cost (backup / restore)':>38}")
    print(header)
    print("-" * len(header))
    previous = None
    for r in results:
        marginal = ""
        if previous:
            per = 100_000 / (r["rows"] - previous["rows"])
            marginal = (f"{(r['base_seconds'] - previous['base_seconds']) * per:>20.2f}s / "
                        f"{(r['restore_seconds'] - previous['restore_seconds']) * per:.2f}s")
        print(f"{r['rows']:>10,}  {r['base_seconds']:>10.1f}s  {human_size(r['dump_bytes']):>11}  "
              f"{human_size(r['sql_bytes']):>10}  {r['restore_seconds']:>11.1f}s  {marginal}")
        previous = r
    if len(results) > 1:
        first, last = results[0], results[-1]
        grow = last["rows"] / first["rows"]
        print(f"growth from {first['rows']:,} to {last['rows']:,} rows ({grow:.0f}x): base backup "
              f"{last['base_seconds'] / first['base_seconds']:.1f}x, restore "
              f"{last['restore_seconds'] / first['restore_seconds']:.1f}x: a fixed cost (SSH, a new scratch "
              f"instance, the binlog flush), then linear in the data")
    if lags:
        lags = sorted(lags)
        print(f"recovery point with the archive timer every {interval} s: commit to archived in "
              f"min {lags[0]:.1f}s, median {lags[len(lags) // 2]:.1f}s, max {lags[-1]:.1f}s over {len(lags)} commits; "
              f"worst case = the interval + one archive run (default 300 s: about 5 minutes)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--interval", type=int, default=30, help="archive timer interval for the RPO figure")
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="leave the containers running")
    args = parser.parse_args()
    load = [f"{x:.2f}" for x in os.getloadavg()]
    network_existed = subprocess.run(["docker", "network", "inspect", NETWORK], capture_output=True).returncode == 0
    with tempfile.TemporaryDirectory(prefix="stackguard-bench-backup-") as tmp:
        hosts = inventory(tmp, args.interval)
        create = os.path.join(tmp, "create.yml")
        with open(create, "w", encoding="utf-8") as handle:
            handle.write(CREATE)
        log = os.path.join(tmp, "ansible.log")
        try:
            print("creating and provisioning the bench's containers (a few minutes)...", flush=True)
            runner.timed([os.path.join(runner.BIN, "ansible-playbook"), "-i", hosts, create], log=log)
            for step in ("wait-for-systemd.yml", "provision-stack.yml", "configure-database.yml",
                         "configure-backup.yml"):
                runner.playbook(f"playbooks/{step}", inventory=hosts, log=log)
            for migration in sorted(os.listdir(os.path.join(REPO, "app", "migrations"))):
                with open(os.path.join(REPO, "app", "migrations", migration), encoding="utf-8") as handle:
                    sql(handle.read())
            results = []
            for size in (int(s) for s in args.sizes.split(",")):
                print(f"{size:,} rows...", flush=True)
                results.append(measure_size(size))
            print(f"recovery point, {args.samples} commits with the timer every {args.interval} s...", flush=True)
            lags = measure_rpo(args.interval, args.samples)
            print_report(results, lags, args.interval, load)
        except runner.BenchError as exc:
            print(f"bench/backup.py: {exc}\n(Ansible output: {log})", file=sys.stderr)
            if os.path.exists(log):
                with open(log, encoding="utf-8") as handle:
                    print(handle.read()[-3000:], file=sys.stderr)
            return 1
        finally:
            if not args.keep:
                subprocess.run(["docker", "rm", "-f", DB, BACKUP], capture_output=True)
                if not network_existed:  # the Molecule scenario may be using it otherwise
                    subprocess.run(["docker", "network", "rm", NETWORK], capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
