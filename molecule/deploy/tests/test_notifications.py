"""The deployment log on each web host and the deploy notification, after test_deploy.py's runs.

Runs after test_deploy.py (pytest takes the files in order): every switch of the scenario - the
converge's first deploy, the idempotence run, the good deploys, the one web2 failed and that
rolled itself back, the killed one and the deploy that finished it - left one JSON line on the
host it switched. Then one more deploy, with webhooks pointing at a listener in this process
(slack and generic) and at a closed port, posts its outcome.
"""
import json
import socket
import subprocess

import pytest
from deploy_testing import build_variant, host, served
from stackguard_testing import REPO, run_playbook

from tests.webhook_listener import WebhookListener, closed_url

testinfra_hosts = ["ansible://web1"]
LOG = "/var/log/stackguard/deployments.jsonl"
KEYS = {"time", "host", "action", "from", "to", "current", "result", "reason", "elapsed", "who"}


def deployments(name):
    return [json.loads(line) for line in host(name).check_output("cat %s", LOG).splitlines()]


def steps(entries):
    return [(e["action"], e["from"], e["to"], e["current"], e["result"]) for e in entries]


def in_order(wanted, entries):
    """Whether the `wanted` steps appear in `entries` in this order (other lines between)."""
    found = iter(steps(entries))
    return all(step in found for step in wanted)


@pytest.mark.parametrize("name", ["web1", "web2"])
def test_every_switch_left_one_line_naming_who(name):
    log = host(name).file(LOG)
    assert (log.user, log.mode) == ("root", 0o640)
    assert host(name).file("/var/log/stackguard").mode == 0o750
    entries = deployments(name)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    for entry in entries:
        assert set(entry) == KEYS
        assert entry["host"] == name and entry["time"].endswith("Z")
        who = entry["who"]
        assert who["user"] and who["controller"] == socket.gethostname()
        assert who["commit"] == commit
    # the converge's first deploy, then the idempotence run: health-checked only
    assert steps(entries[:2]) == [("deploy", None, "1.0.0", "1.0.0", "switched"),
                                  ("deploy", "1.0.0", "1.0.0", "1.0.0", "unchanged")]
    assert in_order([("deploy", "1.0.0", "1.1.0", "1.1.0", "switched"),
                     ("deploy", "1.1.0", "1.7.0", "1.7.0", "switched")], entries)
    assert entries[-1]["current"] == "1.9.0" and served()[name] == "1.9.0"


def test_the_failed_release_shows_as_restored_on_web2_and_rolled_back_on_web1():
    web1, web2 = deployments("web1"), deployments("web2")
    assert in_order([("deploy", "1.1.0", "1.4.0", "1.4.0", "switched"),
                     ("automatic_rollback", "1.4.0", "1.1.0", "1.1.0", "switched")], web1)
    [failed] = [e for e in web2 if e["to"] == "1.4.0"]
    assert (failed["action"], failed["current"], failed["result"]) == ("deploy", "1.1.0", "restored")
    assert "broken once live" in failed["reason"] and "restored current to 1.1.0" in failed["reason"]
    # refused releases never reached a switch
    assert not [e for e in web1 + web2 if e["to"] in ("2.0.0", "1.2.0", "1.3.0", "1.5.0", "1.6.0", "1.8.0")]


def test_a_deploy_posts_its_outcome_and_a_dead_webhook_is_only_a_warning(tmp_path):
    listener = WebhookListener()
    closed = closed_url("/hooks/down")
    webhooks = [{"url": f"{listener.base}/hooks/chat", "style": "slack"},
                {"url": f"{listener.base}/hooks/generic", "style": "generic"},
                {"url": closed, "style": "generic"}]
    try:
        result = run_playbook("deploy.yml", "all", "-e", build_variant(tmp_path, "1.9.0"),
                              "-e", json.dumps({"stackguard_webhooks": webhooks}))
    finally:
        listener.close()
    assert result.returncode == 0, result.stdout[-4000:]
    assert "stackguard_notify: deploy deployed sent to 2 of 3 webhook(s)" in result.stdout
    assert "did not take the deploy event" in result.stdout + result.stderr
    bodies = {request["path"]: request["body"] for request in listener.received}
    assert set(bodies) == {"/hooks/chat", "/hooks/generic"}
    assert bodies["/hooks/chat"]["text"] == (
        "[stackguard molecule-deploy] deploy OK: Release 1.9.0 deployed on web1, web2")
    event = bodies["/hooks/generic"]
    assert (event["kind"], event["status"], event["environment"]) == ("deploy", "ok", "molecule-deploy")
    assert event["details"]["hosts"] == {n: {"from": "1.9.0", "to": "1.9.0", "result": "unchanged"}
                                         for n in ("web1", "web2")}
    assert "molecule-only-password" not in json.dumps(bodies)
    for name in ("web1", "web2"):
        assert steps(deployments(name)[-1:]) == [("deploy", "1.9.0", "1.9.0", "1.9.0", "unchanged")]
