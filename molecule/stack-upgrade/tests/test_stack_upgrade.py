"""The migration the outage needed, as blue/green pool swaps, under continuous load.

Release 1.1.0 runs only on PHP 7 (it calls get_magic_quotes_gpc(), which PHP 8 removed): the
upgrade to the PHP 8.2 pool is refused before anything changes. Release 2.0.0 supports both
stacks: it is deployed, the upgrade provisions the bookworm pool, deploys it there and moves
HAProxy to it; then the stack is rolled back, a deploy reaches both pools, and a pool is retired
only once confirmed and never while live. Tests run in order with one load generator throughout;
the last one asserts that no request failed and that nothing the load created was lost."""
import hashlib
import json
import re
import threading
import time
import urllib.request

import pytest
from deploy_testing import build_variant, database_rows, host, index_with, release_state, served
from load_generator import LoadGenerator
from stackguard_testing import http_json, run_playbook

testinfra_hosts = ["ansible://lb1"]
LB = "http://127.0.0.1:18086"
OLD_POOL, NEW_POOL = ("web1", "web2"), ("web3",)
# Until the upgrade, the new pool is not part of the environment (as if not yet in the inventory).
BEFORE_THE_UPGRADE = "all:!web_php82"
PHP7_ONLY = index_with("$magicQuotes = get_magic_quotes_gpc(); // removed in PHP 8.0")


PHASES = []  # (test, started, ended): to tell which step a failed request fell in


@pytest.fixture(scope="module")
def load():
    with LoadGenerator(LB) as generator:
        yield generator


@pytest.fixture(autouse=True)
def phase(request):
    started = time.time()
    yield
    PHASES.append((request.node.name, started, time.time()))


def during(moment):
    return next((name for name, started, ended in PHASES if started <= moment <= ended), "between tests")


def release(tmp_path, version, php, files=None):
    return build_variant(tmp_path, version, php=php, files=files)


def said(result):
    """The run's output with whitespace folded, so a message is found however it was wrapped."""
    return " ".join(result.stdout.split())


def upgrade(*extra):
    # localhost too: in a local environment the playbook runs the new pool's containers there.
    return run_playbook("upgrade-stack.yml", "all:localhost", "-e", "stack_pool=web_php82", *extra)


def rollback_stack(*extra):
    return run_playbook("rollback-stack.yml", "all", *extra)


def balancer():
    """What the load balancer serves: the live backend in haproxy.cfg, the config's digest, the
    pools record, and /healthz through the frontend."""
    config = host("lb1").check_output("cat /etc/haproxy/haproxy.cfg")
    status, health = http_json(host("lb1"), "http://127.0.0.1/healthz")
    assert status == 200, health
    return {"live": re.search(r"(?m)^\s*default_backend\s+(\S+)\s*$", config).group(1),
            "backends": re.findall(r"(?m)^backend\s+(\S+)", config),
            "digest": hashlib.sha256(config.encode()).hexdigest(),
            "record": json.loads(host("lb1").check_output("cat /var/lib/stackguard/web-pools.json")),
            "php": health["php"], "release": health["release"]}


class FirstAnswerFrom:
    """Polls the load balancer's /healthz (10 per second) in the background and records when the
    first answer from a PHP version starting with `php` came: when the traffic moved."""

    def __init__(self, php):
        self.php, self.at, self._stop = php, None, threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self):
        while not self._stop.is_set() and self.at is None:
            try:
                with urllib.request.urlopen(LB + "/healthz", timeout=2) as answer:
                    if json.loads(answer.read()).get("php", "").startswith(self.php):
                        self.at = time.monotonic()
            except OSError:
                pass
            time.sleep(0.1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        return False


def direct_health(name):
    """/healthz of one web host, asked from the load balancer (as HAProxy asks it)."""
    address = {"web1": "172.29.96.21", "web2": "172.29.96.22", "web3": "172.29.96.23"}[name]
    return http_json(host("lb1"), f"http://{address}/healthz")


def unprovisioned(name):
    return (host(name).run("dpkg-query -W -f='${Status}' apache2").stdout != "install ok installed"
            and not host(name).file("/srv/stackguard-app").exists)


def test_before_the_upgrade_the_old_pool_serves_php7_and_the_new_pool_is_empty(load):
    state = balancer()
    assert state["live"] == "web_php74" and state["backends"] == ["web_php74", "web_php82"]
    assert state["php"].startswith("7.4.")
    assert state["record"] == {"live": "web_php74", "previous": "", "retired": []}
    assert host("web3").system_info.codename == "bookworm"
    assert host("web1").system_info.codename == "bullseye"
    assert unprovisioned("web3")


def test_a_php7_only_release_runs_on_the_old_pool(load, tmp_path):
    result = run_playbook("deploy.yml", BEFORE_THE_UPGRADE, "-e",
                          release(tmp_path, "1.1.0", "^7.4", {"public/index.php": PHP7_ONLY}))
    assert result.returncode == 0, result.stdout[-4000:]
    assert served(OLD_POOL) == {"web1": "1.1.0", "web2": "1.1.0"}
    assert balancer()["release"] == "1.1.0"


def test_a_pool_that_is_not_a_web_pool_is_refused(load):
    before = balancer()["digest"]
    result = run_playbook("upgrade-stack.yml", "all", "-e", "stack_pool=db")
    assert result.returncode != 0
    assert "Refused: a run over the web pool 'db'" in said(result)
    assert "this inventory's are: web_php74, web_php82" in said(result)
    assert balancer()["digest"] == before


def test_the_upgrade_is_refused_for_a_release_php8_cannot_run_before_anything_changes(load, tmp_path):
    before = balancer()
    result = upgrade("-e", release(tmp_path, "1.1.0", "^7.4", {"public/index.php": PHP7_ONLY}))
    assert result.returncode != 0
    assert ("Refused: moving the web to pool web_php82 (stack php82-apache24@1). Why: release 1.1.0 is "
            "not compatible with web pool web_php82 (stack php82-apache24@1): requires php ^7.4, web "
            "pool web_php82 pins php 8.2.32") in said(result)
    assert "nothing was changed on any host" in said(result)
    assert unprovisioned("web3")
    assert balancer() == before
    assert served(OLD_POOL) == {"web1": "1.1.0", "web2": "1.1.0"}


def test_a_release_supporting_both_stacks_replaces_it_on_the_old_pool(load, tmp_path):
    result = run_playbook("deploy.yml", BEFORE_THE_UPGRADE, "-e", release(tmp_path, "2.0.0", "^7.4 || ^8.2"))
    assert result.returncode == 0, result.stdout[-4000:]
    assert served(OLD_POOL) == {"web1": "2.0.0", "web2": "2.0.0"}


def test_the_upgrade_provisions_the_new_pool_deploys_and_moves_the_traffic(load, tmp_path):
    started = time.monotonic()
    with FirstAnswerFrom("8.2.") as moved:
        result = upgrade("-e", release(tmp_path, "2.0.0", "^7.4 || ^8.2"))
        ended = time.monotonic()
    assert result.returncode == 0, result.stdout[-4000:]
    assert moved.at is not None, "the load balancer never answered from PHP 8.2 during the run"
    print(f"upgrade-stack.yml (provision, deploy, swap) took {ended - started:.1f}s; the first answer "
          f"from PHP 8.2 came {moved.at - started:.1f}s after the start")
    state = balancer()
    assert state["live"] == "web_php82"
    assert (state["php"][:4], state["release"]) == ("8.2.", "2.0.0")
    assert state["record"] == {"live": "web_php82", "previous": "web_php74", "retired": []}
    assert served(NEW_POOL) == {"web3": "2.0.0"}
    assert release_state("web3")["last_known_good"] == "2.0.0"
    # The old pool keeps running, ready: healthy, on PHP 7.4, still in HAProxy.
    assert "web_php74" in state["backends"]
    for name in OLD_POOL:
        status, health = direct_health(name)
        assert (status, health["php"][:4], health["release"]) == (200, "7.4.", "2.0.0")


def test_the_stack_rollback_moves_the_traffic_back_in_seconds(load):
    started = time.monotonic()
    with FirstAnswerFrom("7.4.") as moved:
        result = rollback_stack()
        elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-4000:]
    assert moved.at is not None, "the load balancer never answered from PHP 7.4 during the run"
    print(f"rollback-stack.yml took {elapsed:.1f}s (the whole run, preflight included); the first "
          f"answer from PHP 7.4 came {moved.at - started:.1f}s after the start")
    state = balancer()
    assert (state["live"], state["php"][:4]) == ("web_php74", "7.4.")
    assert state["record"] == {"live": "web_php74", "previous": "web_php82", "retired": []}
    assert elapsed < 90


def test_a_deploy_after_the_swap_reaches_both_pools_each_on_its_own_stack(load, tmp_path):
    result = run_playbook("deploy.yml", "all", "-e", release(tmp_path, "2.1.0", "^7.4 || ^8.2"))
    assert result.returncode == 0, result.stdout[-4000:]
    assert served(OLD_POOL + NEW_POOL) == {"web1": "2.1.0", "web2": "2.1.0", "web3": "2.1.0"}
    status, health = direct_health("web3")
    assert (status, health["php"][:4], health["release"]) == (200, "8.2.", "2.1.0")


def test_the_live_pool_is_never_retired_and_no_pool_without_confirmation(load):
    before = balancer()
    live = rollback_stack("-e", "retire_pool=web_php74", "-e", "confirm_retire=web_php74")
    assert live.returncode != 0
    assert "Refused: retiring the web pool 'web_php74'. Why: it is the live pool" in said(live)
    unconfirmed = rollback_stack("-e", "retire_pool=web_php82")
    assert unconfirmed.returncode != 0
    assert "Refused: retiring the web pool web_php82" in said(unconfirmed)
    assert "confirm_retire is not set" in said(unconfirmed)
    assert balancer() == before
    for name in OLD_POOL + NEW_POOL:
        assert host(name).service("apache2").is_running


def test_forward_again_then_the_old_pool_is_retired_once_confirmed(load):
    forward = rollback_stack()
    assert forward.returncode == 0, forward.stdout[-4000:]
    assert balancer()["live"] == "web_php82"
    result = rollback_stack("-e", "retire_pool=web_php74", "-e", "confirm_retire=web_php74")
    assert result.returncode == 0, result.stdout[-4000:]
    state = balancer()
    assert (state["live"], state["backends"], state["php"][:4]) == ("web_php82", ["web_php82"], "8.2.")
    assert state["record"] == {"live": "web_php82", "previous": "", "retired": ["web_php74"]}
    for name in OLD_POOL:
        assert not host(name).service("apache2").is_running
    nothing_to_go_back_to = rollback_stack()
    assert nothing_to_go_back_to.returncode != 0
    assert "Refused: moving the traffic of lb1 back to the previous web pool" in said(nothing_to_go_back_to)


def test_no_request_failed_and_nothing_the_load_created_was_lost(load):
    load.stop()
    assert load.requests > 100
    assert load.failures == [], [(during(f["at"]), f["status"], f["path"], f["body"][:80])
                                 for f in load.failures[:5]]
    usernames, bodies = database_rows()
    assert set(load.accounts) <= usernames
    assert set(load.messages) <= bodies
