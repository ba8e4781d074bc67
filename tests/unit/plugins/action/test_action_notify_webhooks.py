"""The notify_webhooks action plugin, driven for real through `ansible-playbook` with the repo's config.

One webhook listens on 127.0.0.1 (http.server in a thread), one is a closed port: the task
succeeds, reports the dead one as a warning, and the listener receives the slack-style body.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.webhook_listener import WebhookListener, closed_url

REPO = Path(__file__).resolve().parents[4]
PLAYBOOK_BIN = REPO / ".venv" / "bin" / "ansible-playbook"

pytestmark = pytest.mark.skipif(not PLAYBOOK_BIN.exists(),
                                reason=f"{PLAYBOOK_BIN} is not installed (make toolchain)")


@pytest.fixture
def listener():
    server = WebhookListener()
    yield f"{server.base}/hooks/chat", server.received
    server.close()


def test_notify_webhooks_through_ansible_playbook(tmp_path, listener):
    url, received = listener
    down = closed_url()
    event = {"kind": "deploy", "summary": "Release 1.4.2 deployed", "status": "ok",
             "details": {"release": "1.4.2", "vault_database_app_password": "{{ vault_database_app_password }}"}}
    tasks = [
        {"name": "notify", "notify_webhooks": {"webhooks": [{"url": url, "style": "slack"}, {"url": down}],
                                               "event": event, "timeout": 3}},
        {"name": "check mode sends nothing", "check_mode": True,
         "notify_webhooks": {"webhooks": [{"url": url}], "event": event}},
        {"name": "bad style", "ignore_errors": True,
         "notify_webhooks": {"webhooks": [{"url": url, "style": "teams"}], "event": event}},
    ]
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False,
             "vars": {"stackguard_environment": "testenv", "vault_database_app_password": "s3cret"},
             "tasks": tasks}]
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(json.dumps(play, indent=2), encoding="utf-8")  # JSON is YAML
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="json",
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
               PATH=f"{REPO / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run([str(PLAYBOOK_BIN), "-i", "localhost,", str(playbook)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"ansible-playbook did not print JSON (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {task["task"]["name"]: task["hosts"]["localhost"] for task in report["plays"][0]["tasks"]}

    notify = results["notify"]
    assert not notify.get("failed") and notify["changed"] is False
    assert notify["failed_webhooks"] == 1
    assert [(r["url"], r["ok"]) for r in notify["sent"]] == [
        (url.rsplit("/", 1)[0] + "/***", True), (down, False)]
    assert notify["sent"][0]["status"] == 200 and notify["sent"][1]["error"].startswith("unreachable")
    warnings = " ".join(str(w) for w in notify.get("warnings", [])) + proc.stderr
    assert f"webhook {down} did not take the deploy event" in warnings
    assert notify["event"]["environment"] == "testenv"

    assert results["check mode sends nothing"].get("skipped") is True
    assert results["bad style"].get("failed") is True and "teams" in results["bad style"]["msg"]

    (request,) = received  # only the first task sent anything
    assert request["path"] == "/hooks/chat"
    assert request["headers"]["Content-Type"] == "application/json"
    body = request["body"]
    assert body["text"] == "[stackguard testenv] deploy OK: Release 1.4.2 deployed"
    assert {f["title"]: f["value"] for f in body["attachments"][0]["fields"]} == {"release": "1.4.2"}
    assert "s3cret" not in proc.stdout and b"s3cret" not in request["raw"]
