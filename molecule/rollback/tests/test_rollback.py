"""Rollbacks under continuous load: a good release, a rollback, a roll forward again, and the
refusals. Tests run in order with one load generator throughout; the last asserts that no request
failed and that nothing the load created was lost (a rollback never restores the database)."""
import json
import time

import pytest
from deploy_testing import (APP_ROOT, build_variant, database_rows, host, index_with,
                            release_state, served, staged)
from load_generator import LoadGenerator
from stackguard_testing import run_playbook

testinfra_hosts = ["ansible://lb1"]
LB = "http://127.0.0.1:18082"


@pytest.fixture(scope="module")
def load():
    with LoadGenerator(LB) as generator:
        yield generator


@pytest.fixture(scope="module")
def good_release(tmp_path_factory):
    return build_variant(tmp_path_factory.mktemp("releases"), "1.1.0", migrations={
        "0003_add_display_name.sql": "ALTER TABLE users ADD COLUMN display_name VARCHAR(64) NULL;"})


def rollback(*extra):
    return run_playbook("rollback.yml", "all", *extra)


def test_a_good_release_goes_live(load, good_release):
    result = run_playbook("deploy.yml", "all", "-e", good_release)
    assert result.returncode == 0, result.stdout[-4000:]
    assert served() == {"web1": "1.1.0", "web2": "1.1.0"}


def test_a_rollback_returns_every_host_to_the_previous_good_release_and_keeps_the_data(load):
    accounts_before, _ = database_rows()
    time.sleep(2)  # let the load write under 1.1.0
    started = time.monotonic()
    result = rollback()
    took = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-4000:]
    assert served() == {"web1": "1.0.0", "web2": "1.0.0"}
    accounts_after, _ = database_rows()
    assert accounts_before <= accounts_after  # nothing written under 1.1.0 was lost
    columns = host("db1").check_output("mariadb -N -B stackguard -e 'SHOW COLUMNS FROM users'")
    assert "display_name" in columns  # the schema stays expanded; 1.0.0 runs on it
    for name in ("web1", "web2"):
        assert release_state(name)["current"] == "1.0.0"
    print(f"rollback took {took:.1f}s")


def test_a_roll_forward_again_goes_live(load, good_release):
    result = run_playbook("deploy.yml", "all", "-e", good_release)
    assert result.returncode == 0, result.stdout[-4000:]
    assert served() == {"web1": "1.1.0", "web2": "1.1.0"}


def test_a_rollback_to_a_named_release(load):
    result = rollback("-e", "rollback_to=1.0.0")
    assert result.returncode == 0, result.stdout[-4000:]
    assert served() == {"web1": "1.0.0", "web2": "1.0.0"}


def test_a_release_that_is_gone_is_refused(load):
    before = served()
    result = rollback("-e", "rollback_to=0.9.0")
    assert result.returncode != 0
    assert "release 0.9.0 is no longer on web1" in result.stdout
    assert served() == before


def test_a_release_marked_bad_is_refused(load, tmp_path):
    breaks_live = ("if (($_SERVER['SERVER_PORT'] ?? '') === '80' && "
                   "parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH) === '/healthz') {"
                   " http_response_code(503); exit; }")
    failed = run_playbook("deploy.yml", "all", "-e", build_variant(
        tmp_path, "1.4.0", files={"public/index.php": index_with(breaks_live)}))
    assert failed.returncode != 0
    assert release_state("web1")["releases"]["1.4.0"]["status"] == "bad"
    before = served()
    result = rollback("-e", "rollback_to=1.4.0")
    assert result.returncode != 0
    assert "release 1.4.0 is marked bad on web1" in result.stdout
    assert served() == before


def test_a_release_this_php_cannot_run_is_refused(load):
    # As if deployed before a stack change: on disk, but needing PHP 8.1.
    for name in ("web1", "web2"):
        web = host(name)
        web.run_expect([0], "mkdir -p %s/releases/3.0.0", APP_ROOT)
        web.run_expect([0], "echo %s > %s/releases/3.0.0/composer.json",
                       json.dumps({"require": {"php": "^8.1"}}), APP_ROOT)
    assert "3.0.0" in staged("web1")
    before = served()
    result = rollback("-e", "rollback_to=3.0.0")
    assert result.returncode != 0
    assert "release 3.0.0 is not compatible with web1: requires php ^8.1, web1 runs php 7.4.33" in result.stdout
    assert served() == before


def test_no_request_failed_and_nothing_the_load_created_was_lost(load):
    load.stop()
    assert load.requests > 100
    assert load.failures == []
    usernames, bodies = database_rows()
    assert set(load.accounts) <= usernames
    assert set(load.messages) <= bodies
