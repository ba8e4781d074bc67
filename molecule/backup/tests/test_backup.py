"""Backups that lose nothing, on db1 (MariaDB 10.5, the timers), backup1 (the store, over SSH) and
web1 (the app). Tests run in order: the converge's own pre-deploy backup; accounts and messages
through the app's API, a base backup, more of both, a destructive event, a restore to just before
it (every earlier row back byte for byte, none later); the refusals; the restore test; an in-place
restore; failures (database down, backup disk full) reported in status, metrics, exit code and
webhook; retention on a generated store with known dates."""
import json
import re
import time
import urllib.request
import uuid

import pytest
from deploy_testing import host
from stackguard_testing import run_playbook

testinfra_hosts = ["ansible://db1"]
API = "http://127.0.0.1:18083"
STORE = "/var/backups/stackguard"
SCRATCH_SOCKET = "/var/lib/stackguard/restore/mysqld.sock"
STATUS = "/var/lib/stackguard/backup-status.json"
METRICS = "/var/lib/prometheus/node-exporter/stackguard_backup.prom"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# A webhook receiver on web1: each POST body becomes one line of /tmp/hooks.jsonl.
RECEIVER = """
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers['Content-Length']))
        with open('/tmp/hooks.jsonl', 'ab') as f:
            f.write(body.replace(b'\\n', b' ') + b'\\n')
        self.send_response(200); self.end_headers(); self.wfile.write(b'{}')
http.server.HTTPServer(('0.0.0.0', 9099), H).serve_forever()
"""


def api(path, body):
    request = urllib.request.Request(API + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with OPENER.open(request, timeout=15) as answer:
        assert answer.status == 201, answer.read()
        return json.loads(answer.read())


def create(prefix, count):
    """`count` accounts and a message from each to the previous one, through the app; their names."""
    tag = f"{prefix}-{uuid.uuid4().hex[:6]}"
    names = []
    for n in range(count):
        names.append(f"{tag}-{n}")
        api("/api/accounts", {"username": names[-1], "password": f"password-{names[-1]}"})
        if n:
            api("/api/messages", {"from": names[-1], "password": f"password-{names[-1]}", "to": names[-2],
                                  "body": f"hello {names[-2]} ✓ from {names[-1]}\nsecond line"})
    return names


def sql(statement, socket=None):
    option = f"--socket={socket}" if socket else ""
    return host("db1").check_output(f"mariadb {option} -N -B stackguard -e %s", statement)


def rows(socket=None):
    """Every row of users and messages, every column as hex: equal is equal byte for byte."""
    out = {}
    for table in ("users", "messages"):
        columns = sql(f"SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'stackguard' "
                      f"AND TABLE_NAME = '{table}' ORDER BY ORDINAL_POSITION", socket).split()
        expression = ", '|', ".join(f"IFNULL(HEX(`{c}`), 'NULL')" for c in columns)
        out[table] = sql(f"SELECT CONCAT({expression}) FROM `{table}` ORDER BY id", socket).splitlines()
    return out


def usernames(socket=None):
    return set(sql("SELECT username FROM users", socket).split())


def backup(*args):
    """stackguard-backup on db1: (exit code, JSON answer or None, stderr)."""
    result = host("db1").run("stackguard-backup " + " ".join(args))
    try:
        answer = json.loads(result.stdout) if result.stdout.strip() else None
    except ValueError:
        answer = None
    return result.rc, answer, result.stderr


def status():
    return json.loads(host("db1").file(STATUS).content_string)


def metric(name, kind):
    match = re.search(rf'^stackguard_backup_{name}{{kind="{kind}"}} (\S+)$', host("db1").file(METRICS).content_string,
                      re.MULTILINE)
    return float(match.group(1)) if match else None


def utc_second_after_now():
    """A UTC time strictly after everything written so far (binlog times have whole seconds)."""
    time.sleep(1.05 - (time.time() % 1))
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


def restore(point, *extra):
    return run_playbook("restore.yml", "all", "-e", json.dumps({"restore_to": point}), *extra)


@pytest.fixture(scope="module")
def hooks():
    web = host("web1")
    web.run("rm -f /tmp/hooks.jsonl; systemctl stop sg-mol-hooks 2>/dev/null")
    web.check_output("systemd-run --unit sg-mol-hooks python3 -c %s", RECEIVER)
    yield lambda: [json.loads(line) for line in web.run("cat /tmp/hooks.jsonl").stdout.splitlines() if line]
    web.run("systemctl stop sg-mol-hooks")


# --- set up by the converge -----------------------------------------------------------------------

@pytest.mark.parametrize("timer, schedule", [
    ("stackguard-backup-base", "OnCalendar=*-*-* 23:59:00"),
    ("stackguard-backup-binlogs", "OnUnitActiveUSec=5min"),
    ("stackguard-backup-verify", "OnCalendar=Sun *-*-* 04:30:00"),
])
def test_the_timers_exist_are_enabled_and_scheduled(timer, schedule):
    db = host("db1")
    assert db.service(f"{timer}.timer").is_enabled
    assert db.service(f"{timer}.timer").is_running
    shown = db.check_output(f"systemctl show {timer}.timer -p TimersCalendar -p TimersMonotonic -p Persistent")
    assert schedule in shown
    if "OnCalendar" in schedule:
        assert "Persistent=yes" in shown


def test_the_deploy_took_a_pre_deploy_backup_before_migrating():
    rc, listing, _ = backup("list")
    assert rc == 0
    assert any(b["id"].endswith("-pre_deploy") for b in listing["bases"]), listing
    applied = sql("SELECT MIN(applied_at) FROM schema_migrations").strip()
    pre_deploy = min(b["consistent_at"] for b in listing["bases"] if b["id"].endswith("-pre_deploy"))
    assert pre_deploy <= applied[:19], "the backup was taken before the migrations ran"


def test_backups_live_on_the_backup_host_owned_by_the_backup_account_and_private():
    listing = host("backup1").check_output(f"find {STORE} -printf '%u %m %y %p\\n'").splitlines()
    assert len(listing) > 5
    for line in listing:
        owner, mode, kind, path = line.split(" ", 3)
        assert owner == "stackguard-backup", line
        assert mode == ("700" if kind == "d" else "600"), line
    assert not host("db1").file("/var/lib/stackguard/backup/spool").exists or \
        host("db1").check_output("ls -A /var/lib/stackguard/backup/spool") == ""


def test_the_database_host_key_may_only_run_the_store_command():
    db = host("db1")
    shell = db.run("ssh -i /etc/stackguard/backup-ssh/id_ed25519 -o BatchMode=yes "
                   "-o UserKnownHostsFile=/etc/stackguard/backup-ssh/known_hosts stackguard-backup@172.29.93.41 "
                   "'cat /etc/passwd'")
    assert shell.rc != 0 and "unknown command 'cat /etc/passwd'" in shell.stderr
    assert "root:x:0:0" not in shell.stdout


# --- the story: a destructive event and a restore to just before it -------------------------------

@pytest.fixture(scope="module")
def story():
    before_base = create("before-base", 4)
    assert host("db1").run("systemctl start stackguard-backup-base.service").rc == 0
    base_id = status()["runs"]["daily"]["details"]["id"]
    base_max = int(sql("SELECT MAX(id) FROM users"))
    after_base = create("after-base", 4)
    before = rows()
    point = utc_second_after_now()
    sql("DELETE FROM messages; DELETE FROM users;")
    after_event = create("after-event", 3)
    return {"before": before, "point": point, "base": base_id, "base_max": base_max,
            "names": {"before_base": before_base, "after_base": after_base, "after_event": after_event}}


def test_the_daily_backup_unit_records_its_success(story):
    run = status()["runs"]["daily"]
    assert run["last_status"] == "ok" and run["details"]["id"] == story["base"]
    assert metric("last_run_success", "daily") == 1
    assert metric("last_size_bytes", "daily") == run["size_bytes"] > 0
    assert metric("last_success_timestamp_seconds", "daily") > time.time() - 600


def test_a_restore_to_just_before_the_event_brings_back_every_row_before_it_and_none_after(story):
    result = restore(story["point"])
    assert result.returncode == 0, result.stdout[-4000:]
    assert "Restored into the scratch instance" in result.stdout
    restored = rows(SCRATCH_SOCKET)
    assert restored == story["before"]
    names = usernames(SCRATCH_SOCKET)
    assert set(story["names"]["before_base"]) | set(story["names"]["after_base"]) <= names
    assert not names & set(story["names"]["after_event"])
    assert max(int(r.split("|")[0], 16) for r in restored["users"]) > story["base_max"], \
        "rows created after the base backup came back from the archived binlogs"
    assert usernames() == set(story["names"]["after_event"]), "production was not touched"


def refused(point, *extra):
    """Run a refused restore; assert it changed nothing (production, scratch); its message."""
    live, scratch = rows(), rows(SCRATCH_SOCKET)
    rc, _, err = backup("restore", "--to", repr(point), *extra)
    assert rc == 2, err
    assert (rows(), rows(SCRATCH_SOCKET)) == (live, scratch)
    return err


def test_a_point_before_the_oldest_backup_is_refused_and_nothing_changes(story):
    err = refused("2001-01-01 00:00:00")
    assert "refused: restore_to 2001-01-01 00:00:00 UTC is before the oldest base backup" in err


def _archived(story, pick):
    assert backup("binlogs", "--force-flush")[0] == 0
    _, plan, _ = backup("plan", "--to", repr(story["point"]))
    return plan, pick(plan)


def test_a_gap_in_the_binlog_chain_is_refused(story):
    plan, lost = _archived(story, lambda p: p["binlogs"][-1])
    # The server no longer has the file (its binlogs are all archived; purge them as expiry would),
    # and the archive lost its copy.
    current = sql("SHOW MASTER STATUS").split()[0]
    deadline = time.time() + 60
    while lost["name"] in sql("SHOW BINARY LOGS"):
        assert time.time() < deadline, "the server never purged " + lost["name"]
        sql(f"PURGE BINARY LOGS TO '{current}'")
        time.sleep(0.5)
    store = host("backup1")
    path = f"{STORE}/db1/binlogs/{lost['key']}"
    store.check_output(f"mv {path} {STORE}/lost-binlog")
    try:
        err = refused(story["point"])
        assert f"gap in the binlog chain: {lost['name']}" in err
    finally:
        store.check_output(f"mv {STORE}/lost-binlog {path}")


def test_a_damaged_base_backup_is_refused(story):
    plan, backup_id = _archived(story, lambda p: p["base"]["id"])
    dump = f"{STORE}/db1/base/{backup_id}/dump.sql.gz"
    store = host("backup1")
    store.check_output(f"cp -p {dump} /root/dump.orig && printf 'X' | dd of={dump} bs=1 seek=100 conv=notrunc")
    try:
        err = refused(story["point"])
        assert f"checksum mismatch: base backup {backup_id}/dump.sql.gz has sha256" in err
    finally:
        store.check_output(f"cp -p /root/dump.orig {dump}")


def test_a_backup_from_another_major_server_version_is_refused(story):
    plan, backup_id = _archived(story, lambda p: p["base"]["id"])
    manifest = f"{STORE}/db1/base/{backup_id}/manifest.json"
    store = host("backup1")
    store.check_output(f"cp -p {manifest} /root/manifest.orig && "
                       f"sed -i 's/\"server_version\": \"10.5/\"server_version\": \"10.11/' {manifest}")
    try:
        err = refused(story["point"])
        assert f"base backup {backup_id} was taken on MariaDB 10.11" in err and "this server runs 10.5.29" in err
    finally:
        store.check_output(f"cp -p /root/manifest.orig {manifest}")


def test_the_restore_test_playbook_matches_the_live_database(story):
    create("verify", 2)
    result = run_playbook("backup-verify.yml", "all")
    assert result.returncode == 0, result.stdout[-4000:]
    assert "every app table matches the live database at that point" in result.stdout
    run = status()["runs"]["verify"]
    assert run["last_status"] == "ok" and run["details"]["live"] == run["details"]["restored"]
    assert metric("last_run_success", "verify") == 1


def test_an_in_place_restore_takes_a_safety_backup_and_brings_production_back(story):
    replaced = usernames()
    result = restore(story["point"], "-e", "restore_in_place=true")
    assert result.returncode == 0, result.stdout[-4000:]
    assert rows() == story["before"]
    _, listing, _ = backup("list")
    safety = [b for b in listing["bases"] if b["id"].endswith("-safety")]
    assert safety and any(b["id"].endswith("-after_restore") for b in listing["bases"])
    assert listing["markers"]
    # What the in-place restore replaced is in its safety backup.
    rc, answer, err = backup("restore", "--to", safety[-1]["binlog"])
    assert rc == 0, err
    assert usernames(SCRATCH_SOCKET) == replaced
    status_code = OPENER.open(API + "/healthz", timeout=10).status
    assert status_code == 200


# --- failures -------------------------------------------------------------------------------------

def test_a_backup_with_the_database_down_fails_in_status_metrics_exit_code_and_webhook(hooks):
    db = host("db1")
    last_success = metric("last_success_timestamp_seconds", "daily")
    db.check_output("systemctl stop mariadb")
    try:
        assert db.run("systemctl start stackguard-backup-base.service").rc != 0
        rc, _, err = backup("base", "--kind", "daily")
        assert rc == 1 and "Can't connect" in err
        # The disaster case: production is down, and everything archived still restores.
        rc, restored, err = backup("restore", "--to", "latest")
        assert rc == 0, err
        assert restored["archive"] is None and restored["tables"]["users"]["rows"] > 0
    finally:
        db.check_output("systemctl start mariadb")
    run = status()["runs"]["daily"]
    assert run["last_status"] == "failed" and "Can't connect" in run["last_error"]
    assert metric("last_run_success", "daily") == 0
    assert metric("last_success_timestamp_seconds", "daily") == last_success
    events = [e for e in hooks() if e.get("kind") == "backup_failed"]
    assert events and events[-1]["status"] == "failed" and "Can't connect" in events[-1]["summary"]
    assert events[-1]["environment"] == "molecule-backup"


def test_a_backup_onto_a_full_disk_fails_in_status_metrics_and_exit_code(hooks):
    store = host("backup1")
    base = f"{STORE}/db1/base"
    # A full filesystem over the store's base directory: a small tmpfs, then a file filling it.
    store.check_output(f"mount -t tmpfs -o size=512k,mode=0700,uid=$(id -u stackguard-backup),"
                       f"gid=$(id -g stackguard-backup) tmpfs {base}")
    try:
        store.run(f"dd if=/dev/zero of={base}/filler bs=4k")
        rc, _, err = backup("base", "--kind", "manual")
    finally:
        store.check_output(f"umount {base}")
    assert rc == 1 and "No space left on device" in err
    run = status()["runs"]["manual"]
    assert run["last_status"] == "failed" and "No space left on device" in run["last_error"]
    assert metric("last_run_success", "manual") == 0
    assert any("No space left on device" in e["summary"] for e in hooks() if e.get("kind") == "backup_failed")
    assert host("db1").check_output("ls -A /var/lib/stackguard/backup/spool") == "", "no dump is left behind"


# --- retention ------------------------------------------------------------------------------------

GENERATOR = r"""
import datetime, hashlib, json, os, sys
os.umask(0o077)
root = sys.argv[1]
def write(path, data):
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with open(path, "wb") as f: f.write(data)
    os.chmod(path, 0o600)
def stamp(t): return t.strftime("%Y%m%dT%H%M%SZ")
def iso(t): return t.strftime("%Y-%m-%dT%H:%M:%SZ")
day = datetime.datetime(2025, 11, 1, 23, 59, tzinfo=datetime.timezone.utc)
n = 0
while day <= datetime.datetime(2026, 12, 30, 23, 59, tzinfo=datetime.timezone.utc):
    n += 1
    backup_id = stamp(day) + "-daily"
    dump = ("dump %d" % n).encode()
    write(f"{root}/base/{backup_id}/dump.sql.gz", dump)
    write(f"{root}/base/{backup_id}/manifest.json", json.dumps({
        "format": 1, "id": backup_id, "kind": "daily", "database": "stackguard",
        "consistent_at": iso(day + datetime.timedelta(seconds=1)),
        "binlog": {"file": "mariadb-bin.%06d" % n, "position": 389}, "server_version": "10.5.29-MariaDB",
        "dump": {"file": "dump.sql.gz", "sha256": hashlib.sha256(dump).hexdigest(), "size": len(dump)}}).encode())
    started = day + datetime.timedelta(seconds=1)
    key = stamp(started) + "_mariadb-bin.%06d" % n
    write(f"{root}/binlogs/{key}", b"binlog %d" % n)
    write(f"{root}/binlogs/{key}.json", json.dumps({
        "key": key, "name": "mariadb-bin.%06d" % n, "sha256": "0" * 64, "size": 9, "started_at": iso(started),
        "last_event_at": iso(started + datetime.timedelta(hours=23, minutes=58)), "end": "rotate",
        "next": "mariadb-bin.%06d" % (n + 1), "server_version": "10.5.29-MariaDB"}).encode())
    day += datetime.timedelta(days=1)
# A pre-deploy backup on the last day (not its newest), an incomplete one from this morning and
# one from two weeks ago.
write(f"{root}/base/20261230T100000Z-pre_deploy/dump.sql.gz", b"x")
write(f"{root}/base/20261230T100000Z-pre_deploy/manifest.json", json.dumps({
    "format": 1, "id": "20261230T100000Z-pre_deploy", "kind": "pre_deploy", "database": "stackguard",
    "consistent_at": "2026-12-30T10:00:01Z", "binlog": {"file": "mariadb-bin.000425", "position": 500},
    "server_version": "10.5.29-MariaDB",
    "dump": {"file": "dump.sql.gz", "sha256": hashlib.sha256(b"x").hexdigest(), "size": 1}}).encode())
write(f"{root}/base/20261231T080000Z-manual/dump.sql.gz", b"partial")
write(f"{root}/base/20261216T080000Z-manual/dump.sql.gz", b"partial")
"""


def test_retention_keeps_exactly_seven_days_four_weeks_twelve_months_and_the_binlogs_they_need():
    store = host("backup1")
    lab = f"{STORE}/retention-lab"
    store.run(f"rm -rf {lab}")
    try:
        _generate_and_prune(store, lab)
    finally:
        store.run(f"rm -rf {lab}")


def _generate_and_prune(store, lab):
    store.check_output(f"runuser -u stackguard-backup -- python3 -c %s {lab}", GENERATOR)
    result = store.run("runuser -u stackguard-backup -- stackguard-backup-store --source retention-lab "
                       "--now '2026-12-31 12:00:00' prune")
    assert result.rc == 0, result.stderr
    kept = sorted(store.check_output(f"ls {lab}/base").split())
    # 7 days: 12-24..12-30; 4 ISO weeks: 12-30 (W53), 12-27, 12-20, 12-13; 12 months: the last day
    # of each of 2026-01..2026-11 and 12-30; the incomplete backup of this morning (grace period).
    days = ["20261224", "20261225", "20261226", "20261227", "20261228", "20261229", "20261230",
            "20261220", "20261213", "20260131", "20260228", "20260331", "20260430", "20260531", "20260630",
            "20260731", "20260831", "20260930", "20261031", "20261130"]
    assert kept == sorted([f"{d}T235900Z-daily" for d in days] + ["20261231T080000Z-manual"])
    binlogs = sorted(n for n in store.check_output(f"ls {lab}/binlogs").split() if not n.endswith(".json"))
    # The oldest kept backup is consistent at 2026-01-31 23:59:01; the binlog started then (its
    # predecessor, started on the 30th, ended at 23:57:01 on the 31st, before it) is the first one kept.
    assert binlogs[0] == "20260131T235901Z_mariadb-bin.000092"
    assert binlogs[-1] == "20261230T235901Z_mariadb-bin.000425"
    assert len(binlogs) == 334
    for line in store.check_output(f"find {lab} -printf '%u %m %y\\n'").splitlines():
        owner, mode, kind = line.split()
        assert owner == "stackguard-backup" and mode == ("700" if kind == "d" else "600")
