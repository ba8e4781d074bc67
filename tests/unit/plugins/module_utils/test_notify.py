"""notify: payload shapes, redaction, and delivery to real local HTTP listeners."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.notify import display_url, payload, redact, send, send_all
from tests.webhook_listener import WebhookListener
from tests.webhook_listener import closed_url as webhook_closed_url

EVENT = {
    "kind": "deploy",
    "environment": "production",
    "summary": "Release 1.4.2\n deployed",
    "details": {"release": "1.4.2", "hosts": ["web1", "web2"], "db_password": "s3cret",
                "nested": {"API_Key": "s3cret", "ok": 1, "list": [{"vault_x": "s3cret", "keep": True}]}},
    "status": "ok",
    "at": "2024-05-01T10:00:00Z",
}


@pytest.fixture
def listener():
    server = WebhookListener()
    server.url = server.base + "/hook"
    yield server
    server.close()


@pytest.fixture
def failing_listener():
    server = WebhookListener(status=500)
    server.url = server.base + "/hook"
    yield server
    server.close()


@pytest.fixture
def closed_url():
    return webhook_closed_url("/hook")


def test_redact_drops_secret_keys_at_any_depth():
    data = {"Password": 1, "user": "app", "tokens": [1], "SECRET_x": 2, "primary": {
        "apikey": 3, "name": "n", "items": [{"vault_db": 4, "v": 5}, ("a", {"MyToken": 6, "w": 7})]}}
    assert redact(data) == {"user": "app", "primary": {"name": "n", "items": [{"v": 5}, ["a", {"w": 7}]]}}
    assert redact("plain") == "plain"
    assert data["Password"] == 1  # the input is not modified


def test_generic_payload_is_the_event_with_source_and_redacted_details():
    body = payload(EVENT, "generic")
    assert body["source"] == "stackguard"
    assert body["kind"] == "deploy" and body["environment"] == "production"
    assert body["summary"] == "Release 1.4.2 deployed"  # one line
    assert body["status"] == "ok" and body["at"] == "2024-05-01T10:00:00Z"
    assert body["details"] == {"release": "1.4.2", "hosts": ["web1", "web2"],
                               "nested": {"ok": 1, "list": [{"keep": True}]}}
    assert "s3cret" not in json.dumps(body)


def test_slack_payload_has_text_and_an_attachment():
    body = payload(EVENT, "slack")
    assert body["text"] == "[stackguard production] deploy OK: Release 1.4.2 deployed"
    (attachment,) = body["attachments"]
    assert attachment["color"] == "#2eb886"
    titles = {field["title"]: field["value"] for field in attachment["fields"]}
    assert titles["release"] == "1.4.2"
    assert titles["hosts"] == '["web1", "web2"]'
    assert "db_password" not in titles
    assert "s3cret" not in json.dumps(body)


def test_payload_defaults_and_errors():
    body = payload({"kind": "drift", "summary": "web1 drifted", "status": "failed"}, "slack")
    assert body["text"] == "[stackguard] drift FAILED: web1 drifted"
    assert "fields" not in body["attachments"][0]
    generic = payload({"kind": "drift", "summary": "s"})
    assert generic["status"] == "ok" and generic["at"].endswith("Z") and generic["details"] == {}
    with pytest.raises(ValueError, match="style"):
        payload(EVENT, "teams")
    with pytest.raises(ValueError, match="summary"):
        payload({"kind": "deploy"}, "generic")


def test_display_url_masks_webhook_credentials():
    assert display_url("https://hooks.slack.com/services/T0/B0/XXXX") == "https://hooks.slack.com/services/***"
    assert display_url("https://u:p@example.com:8443/hook?token=x") == "https://example.com:8443/hook?***"
    assert display_url("http://127.0.0.1:9/hook") == "http://127.0.0.1:9/hook"


def test_send_posts_json_to_a_real_listener(listener, monkeypatch):
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:1")  # loopback ignores proxies
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")
    result = send(listener.url, payload(EVENT, "slack"))
    assert result == {"url": listener.url, "ok": True, "status": 200, "error": None}
    (request,) = listener.received
    assert request["path"] == "/hook"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["User-Agent"].startswith("stackguard-notify")
    received = request["body"]
    assert received["text"].startswith("[stackguard production] deploy OK")
    assert b"s3cret" not in request["raw"]


def test_a_down_webhook_is_reported_not_raised(closed_url):
    result = send(closed_url, {"text": "x"}, timeout=2)
    assert result["ok"] is False and result["status"] is None
    assert result["error"].startswith("unreachable")


def test_a_500_webhook_is_reported(failing_listener):
    result = send(failing_listener.url, {"text": "x"})
    assert result["ok"] is False and result["status"] == 500
    assert result["error"].startswith("HTTP 500")
    assert len(failing_listener.received) == 1


def test_send_rejects_non_http_urls_without_raising():
    assert send("file:///etc/passwd", {})["error"] == "not an http(s) URL"
    assert send(None, {})["ok"] is False


def test_send_all_reports_each_webhook(listener, closed_url):
    results = send_all([{"url": listener.url, "style": "generic"}, {"url": closed_url, "style": "slack"},
                        {"url": listener.url, "style": "bogus"}], EVENT)
    assert [r["ok"] for r in results] == [True, False, False]
    assert "unknown webhook style" in results[2]["error"]
    (request,) = listener.received
    received = request["body"]
    assert received["source"] == "stackguard" and received["kind"] == "deploy"
    assert "db_password" not in received["details"]
