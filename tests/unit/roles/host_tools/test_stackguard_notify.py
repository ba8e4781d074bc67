"""stackguard-notify, run for real (python -S, no Ansible) against real HTTP listeners on 127.0.0.1.

The script is the role's file; the library is the repository's, laid out as the role installs it.
Configuration comes from a temporary directory (STACKGUARD_CONFIG_DIR) instead of /etc/stackguard.
"""
import json

import pytest

from tests.unit.roles.host_tools.hostside import HOST_LIB, NOTIFY_BIN, install, run
from tests.webhook_listener import WebhookListener, closed_url

pytestmark = pytest.mark.skipif(HOST_LIB.exists(), reason=f"{HOST_LIB} exists here and would shadow the copy under test")

SECRET_PATH = "/services/T000/B000/s3cretwebhooktoken"


@pytest.fixture
def listener():
    server = WebhookListener()
    yield server
    server.close()


@pytest.fixture
def lib(tmp_path):
    return install(tmp_path / "root")


def configure(tmp_path, webhooks, host=None):
    etc = tmp_path / "etc"
    etc.mkdir(exist_ok=True)
    if webhooks is not None:
        (etc / "webhooks.json").write_text(json.dumps(webhooks), encoding="utf-8")
    (etc / "host.json").write_text(json.dumps(host or {"environment": "staging", "host": "web1"}),
                                   encoding="utf-8")
    return etc


def notify(lib, etc, *argv):
    return run([NOTIFY_BIN, *argv], lib, env={"STACKGUARD_CONFIG_DIR": str(etc)})


def test_posts_slack_and_generic_bodies_and_a_dead_webhook_does_not_fail(tmp_path, lib, listener):
    etc = configure(tmp_path, [{"url": listener.base + SECRET_PATH, "style": "slack"},
                               {"url": listener.base + "/generic"},
                               {"url": closed_url(), "style": "generic"}])
    details = {"items": [{"kind": "hold", "name": "apache2"}], "db_password": "s3cret"}
    proc = notify(lib, etc, "--kind", "drift", "--status", "warning", "--summary", "1 drift item",
                  "--details-json", json.dumps(details), "--timeout", "3")
    assert proc.returncode == 0, proc.stderr
    assert [r["path"] for r in listener.received] == [SECRET_PATH, "/generic"]
    slack, generic = (r["body"] for r in listener.received)
    assert slack["text"] == "[stackguard staging] drift WARNING: 1 drift item"
    fields = {f["title"]: f["value"] for f in slack["attachments"][0]["fields"]}
    assert fields == {"host": "web1", "items": '[{"kind": "hold", "name": "apache2"}]'}
    assert generic["source"] == "stackguard"
    assert (generic["kind"], generic["status"], generic["environment"], generic["host"]) == \
        ("drift", "warning", "staging", "web1")
    assert generic["details"] == {"host": "web1", "items": [{"kind": "hold", "name": "apache2"}]}
    assert listener.received[0]["content_type"] == "application/json"
    # the dead one is reported on stderr, URLs masked (the path is a credential)
    assert "NOT delivered to http://127.0.0.1:" in proc.stderr and "unreachable" in proc.stderr
    assert "2 of 3 webhook(s) took the drift event" in proc.stdout
    assert "s3cret" not in proc.stdout + proc.stderr + json.dumps(listener.received[1]["body"])
    assert "/services/***" in proc.stdout


def test_no_webhooks_configured_sends_nothing_and_says_so(tmp_path, lib):
    etc = configure(tmp_path, [])
    proc = notify(lib, etc, "--kind", "backup", "--status", "failed", "--summary", "dump failed")
    assert proc.returncode == 0
    assert "no webhooks configured" in proc.stdout and "was not sent" in proc.stdout
    assert proc.stderr == ""


def test_missing_configuration_is_reported_and_exits_0(tmp_path, lib):
    etc = tmp_path / "nothing-here"
    proc = notify(lib, etc, "--kind", "drift", "--status", "ok", "--summary", "drift cleared")
    assert proc.returncode == 0
    assert f"{etc}/webhooks.json does not exist" in proc.stderr
    assert f"{etc}/host.json does not exist" in proc.stderr
    assert "no webhooks configured" in proc.stdout


def test_malformed_configuration_and_details_are_reported_and_the_event_still_goes(tmp_path, lib, listener):
    etc = configure(tmp_path, [{"style": "slack"}, {"url": listener.base + "/g"}])
    (etc / "host.json").write_text("{not json", encoding="utf-8")
    proc = notify(lib, etc, "--kind", "backup", "--status", "failed", "--summary", "x",
                  "--details-json", "{oops")
    assert proc.returncode == 0
    assert "entry 0 has no url; skipped" in proc.stderr
    assert "host.json is unreadable" in proc.stderr
    assert "--details-json is not valid JSON" in proc.stderr
    [request] = listener.received
    assert request["body"]["details"] == {"details_error": "the caller's --details-json was not valid JSON"}
    assert request["body"]["environment"] is None


def test_an_error_answer_is_reported_not_raised(tmp_path, lib):
    failing = WebhookListener(status=500)
    try:
        etc = configure(tmp_path, [{"url": failing.base + "/hook", "style": "slack"}])
        proc = notify(lib, etc, "--kind", "drift", "--status", "ok", "--summary", "drift cleared")
    finally:
        failing.close()
    assert proc.returncode == 0
    assert len(failing.received) == 1
    assert "NOT delivered" in proc.stderr and "HTTP 500" in proc.stderr


@pytest.mark.parametrize("argv, message", [
    ([], "the following arguments are required: --kind, --status, --summary"),
    (["--kind", "drift", "--status", "bad", "--summary", "x"], "invalid choice: 'bad'"),
    (["--kind", " ", "--status", "ok", "--summary", "x"], "--kind and --summary must not be empty"),
])
def test_a_wrong_command_line_exits_2_and_sends_nothing(tmp_path, lib, listener, argv, message):
    etc = configure(tmp_path, [{"url": listener.base + "/g"}])
    proc = notify(lib, etc, *argv)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert listener.received == []
