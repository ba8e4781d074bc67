"""host_notify: what stackguard-notify builds from its command line and configuration.

Delivery to real listeners, exit codes and messages are tested by running the installed script:
tests/unit/roles/host_tools/test_stackguard_notify.py.
"""

from __future__ import annotations

import io
import json

import pytest

from ansible.module_utils.host_notify import build_event, load_webhooks, main, parse_details, parser


def test_the_event_carries_environment_host_and_redacted_details():
    args = parser().parse_args(["--kind", "backup", "--status", "failed", "--summary", "dump\n failed"])
    event = build_event(args, {"environment": "production", "host": "db1"},
                        {"size": 3, "vault_pass": "x", "nested": {"api_token": "y", "ok": True}})
    assert event["kind"] == "backup" and event["status"] == "failed"
    assert event["summary"] == "dump failed"
    assert (event["environment"], event["host"]) == ("production", "db1")
    assert event["details"] == {"size": 3, "nested": {"ok": True}, "host": "db1"}
    assert event["at"].endswith("Z")


def test_a_host_file_without_names_leaves_them_out():
    args = parser().parse_args(["--kind", "drift", "--status", "ok", "--summary", "x"])
    event = build_event(args, {}, {})
    assert event["environment"] is None and "host" not in event and event["details"] == {}


@pytest.mark.parametrize("text, details, error", [
    (None, {}, None),
    ('{"a": 1}', {"a": 1}, None),
    ("[1, 2]", {"value": [1, 2]}, "--details-json is not a JSON object; sent as details.value"),
    ("{bad", {"details_error": "the caller's --details-json was not valid JSON"}, "is not valid JSON"),
])
def test_details(text, details, error):
    errors = []
    assert parse_details(text, errors) == details
    assert (error in errors[0]) if error else errors == []


def test_webhooks_file_entries(tmp_path):
    path = tmp_path / "webhooks.json"
    path.write_text(json.dumps([{"url": "https://a/x", "style": "slack"}, {"url": "http://b"}, "junk", {}]))
    errors = []
    assert load_webhooks(str(path), errors) == [{"url": "https://a/x", "style": "slack"},
                                                {"url": "http://b", "style": "generic"}]
    assert errors == [f"{path}: entry 2 has no url; skipped", f"{path}: entry 3 has no url; skipped"]
    path.write_text('{"url": "x"}')
    errors = []
    assert load_webhooks(str(path), errors) == []
    assert errors == [f"{path} holds a dict, not a list"]


def test_main_with_no_webhooks_prints_and_returns_0(tmp_path):
    (tmp_path / "webhooks.json").write_text("[]")
    (tmp_path / "host.json").write_text('{"environment": "staging", "host": "web1"}')
    out, err = io.StringIO(), io.StringIO()
    assert main(["--kind", "drift", "--status", "warning", "--summary", "s"], str(tmp_path), out, err) == 0
    assert out.getvalue() == (f"stackguard-notify: no webhooks configured in {tmp_path}/webhooks.json; "
                              "the drift event (warning: s) was not sent\n")
    assert err.getvalue() == ""
