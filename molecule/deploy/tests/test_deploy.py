"""Safe deploys under continuous load: each refusal, the candidate check, the automatic rollback,
the lock and a killed run. Tests run in order, with one load generator running throughout; the
last test asserts that no request failed and that nothing the load created was lost."""
import json
import os
import signal
import time

import pytest
from deploy_testing import (build_variant, index_with, database_rows, host, release_state,
                            release_vars, served, staged)
from load_generator import LoadGenerator
from stackguard_testing import http_json, run_playbook, start_playbook

testinfra_hosts = ["ansible://lb1"]
LB = "http://127.0.0.1:18081"
@pytest.fixture(scope="module")
def load():
    with LoadGenerator(LB) as generator:
        yield generator


def lock_holder_pid():
    lock = host("web1").run("cat /var/lib/stackguard/deploy.lock")
    return json.loads(lock.stdout).get("controller_pid") if lock.rc == 0 else None


def deploy(release):
    return run_playbook("deploy.yml", "all", "-e", release)


def unchanged(before):
    assert served() == before["served"]
    assert staged("web1") == before["staged"]


def snapshot():
    return {"served": served(), "staged": staged("web1")}


def test_a_good_release_with_an_expand_migration_goes_live_on_every_host(load, tmp_path):
    release = build_variant(tmp_path, "1.1.0", migrations={
        "0003_add_display_name.sql": "ALTER TABLE users ADD COLUMN display_name VARCHAR(64) NULL;"})
    result = deploy(release)
    assert result.returncode == 0, result.stdout[-4000:]
    assert served() == {"web1": "1.1.0", "web2": "1.1.0"}
    status, health = http_json(host("lb1"), "http://127.0.0.1/healthz")
    assert (status, health["release"], health["schema"]["version"]) == (200, "1.1.0", 3)
    for name in ("web1", "web2"):
        state = release_state(name)
        assert (state["current"], state["last_known_good"]) == ("1.1.0", "1.1.0")


def test_a_release_this_php_cannot_run_is_refused_before_any_host_changes(load, tmp_path):
    before = snapshot()
    result = deploy(build_variant(tmp_path, "2.0.0", php="^8.1"))
    assert result.returncode != 0
    assert "release 2.0.0 is not compatible with web1: requires php ^8.1, web1 runs php 7.4.33" in result.stdout
    unchanged(before)


def test_a_syntax_error_under_this_php_is_refused_at_staging(load, tmp_path):
    before = snapshot()
    broken = "<?php\nfunction pick(int $x): string { return match ($x) { 1 => 'one', default => 'other' }; }\n"
    result = deploy(build_variant(tmp_path, "1.2.0", files={"src/Pick.php": broken}))
    assert result.returncode != 0
    assert "release 1.2.0 does not parse with this host's PHP (web1)" in result.stdout
    assert "syntax error" in result.stdout and "Pick.php" in result.stdout
    unchanged(before)
    assert "1.2.0" not in staged("web1")


def test_code_that_lints_but_breaks_on_this_php_is_caught_by_the_candidate_check(load, tmp_path):
    before = snapshot()
    # str_contains() exists from PHP 8.0: this parses on 7.4, and fails when it runs.
    release = build_variant(tmp_path, "1.3.0", files={
        "public/index.php": index_with("if (str_contains('abc', 'b')) { /* PHP 8 only */ }")})
    result = deploy(release)
    assert result.returncode != 0
    assert "Point the local preview site at the staged release" in result.stdout
    assert "http://127.0.0.1:8081/healthz: release 1.3.0 reported itself unhealthy" in result.stdout
    assert served() == before["served"]


def test_an_apache_config_broken_outside_the_deploy_stops_it_before_the_live_site(load, tmp_path):
    # The reload is `apache2ctl -k graceful`: Apache parses its configuration before it signals
    # the server, so a syntax error refuses the reload and the running server keeps serving.
    before = snapshot()
    web1 = host("web1")
    web1.run_test("printf 'NoSuchDirective on\\n' > /etc/apache2/conf-enabled/zz-broken.conf")
    try:
        result = deploy(build_variant(tmp_path, "1.3.1"))
    finally:
        web1.run_test("rm -f /etc/apache2/conf-enabled/zz-broken.conf")
    assert result.returncode != 0
    assert "reload apache2ctl -k graceful exited 1: Invalid command 'NoSuchDirective'" in result.stdout
    assert "Point the local preview site at the staged release" in result.stdout
    assert served() == before["served"]
    assert web1.service("apache2").is_running


def test_a_release_failing_after_the_switch_is_rolled_back_on_every_host(load, tmp_path):
    before = snapshot()
    # Healthy on the preview site and on web1; on web2, /healthz fails once the release is live.
    breaks_live_on_web2 = (
        "if (gethostname() === 'web2' && ($_SERVER['SERVER_PORT'] ?? '') === '80'"
        " && parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH) === '/healthz') {"
        " http_response_code(503); header('Content-Type: application/json');"
        " echo '{\"status\":\"fail\",\"reason\":\"broken once live\"}'; exit; }")
    started = time.monotonic()
    result = deploy(build_variant(tmp_path, "1.4.0", files={"public/index.php": index_with(breaks_live_on_web2)}))
    assert result.returncode != 0
    assert "release 1.4.0 failed on web2 after the switch and was rolled back on every host" in result.stdout
    assert served() == before["served"]  # web1 was switched, then switched back
    for name in ("web1", "web2"):
        state = release_state(name)
        assert state["releases"]["1.4.0"]["status"] == "bad"
        assert state["current"] == before["served"][name]
    print(f"deploy with automatic rollback took {time.monotonic() - started:.1f}s")


def test_a_destructive_migration_is_refused(load, tmp_path):
    before = snapshot()
    result = deploy(build_variant(tmp_path, "1.5.0", migrations={
        "0003_add_display_name.sql": "ALTER TABLE users ADD COLUMN display_name VARCHAR(64) NULL;",
        "0004_drop_display_name.sql": "ALTER TABLE users DROP COLUMN display_name;"}))
    assert result.returncode != 0
    assert "0004_drop_display_name.sql" in result.stdout and "would break the release it replaces" in result.stdout
    unchanged(before)
    columns = host("db1").check_output("mariadb -N -B stackguard -e 'SHOW COLUMNS FROM users'")
    assert "display_name" in columns


def test_an_artifact_that_is_not_the_pinned_one_is_refused(load, tmp_path):
    before = snapshot()
    pinned = json.loads(build_variant(tmp_path, "1.6.0"))["stackguard_app_release"]
    result = deploy(release_vars("1.6.0", pinned["artifact"], "0" * 64))
    assert result.returncode != 0
    assert "Refusing to deploy an artifact that is not the one pinned" in result.stdout
    unchanged(before)


def test_a_concurrent_deploy_is_refused_by_the_lock(load, tmp_path):
    first = start_playbook("deploy.yml", "all", "-e", build_variant(tmp_path, "1.7.0"))
    try:
        deadline = time.monotonic() + 120
        # Wait for the first run's own lock (a failed earlier run may have left one to take over).
        while lock_holder_pid() != first.pid:
            assert time.monotonic() < deadline and first.poll() is None, "the first deploy never took the lock"
            time.sleep(0.5)
        second = deploy(build_variant(tmp_path, "1.8.0"))
        assert second.returncode != 0
        assert "deploy lock held by" in second.stdout
    finally:
        output, _ = first.communicate(timeout=600)
    assert first.returncode == 0, output[-4000:]
    assert served() == {"web1": "1.7.0", "web2": "1.7.0"}


def test_a_killed_deploy_leaves_the_site_serving_and_the_next_deploy_finishes(load, tmp_path):
    release = build_variant(tmp_path, "1.9.0")
    run = start_playbook("deploy.yml", "all", "-e", release)
    deadline = time.monotonic() + 300
    # Kill it in the middle of the rollout: once web1 serves the new release.
    while served()["web1"] != "1.9.0":
        assert time.monotonic() < deadline and run.poll() is None, "the deploy never reached the switch"
        time.sleep(0.2)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(timeout=30)
    assert set(served().values()) <= {"1.7.0", "1.9.0"}
    status, health = http_json(host("lb1"), "http://127.0.0.1/healthz")
    assert status == 200 and health["release"] in {"1.7.0", "1.9.0"}
    result = deploy(release)
    assert result.returncode == 0, result.stdout[-4000:]
    assert served() == {"web1": "1.9.0", "web2": "1.9.0"}
    assert not host("web1").file("/var/lib/stackguard/deploy.lock").exists


def test_no_request_failed_and_nothing_the_load_created_was_lost(load):
    load.stop()
    assert load.requests > 100
    assert load.failures == []
    usernames, bodies = database_rows()
    assert set(load.accounts) <= usernames
    assert set(load.messages) <= bodies
