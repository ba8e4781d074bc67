"""notify.run_event: the event a deploy or rollback run sends, for each outcome (data-driven).

The callback that gathers these facts from a real run is tested in
tests/unit/plugins/callback/test_stackguard_notify.py."""

from __future__ import annotations

import pytest

from ansible.module_utils.notify import payload, run_event


def sw(host, previous, current, version=None, switched=True, restored=False, failed=False):
    return {"host": host, "version": version or current, "previous": previous, "current": current,
            "switched": switched, "restored": restored, "failed": failed}


CASES = {
    "deployed": ("deploy", "1.1.0", [sw("web1", "1.0.0", "1.1.0"), sw("web2", "1.0.0", "1.1.0")], [],
                 "deployed", "ok", "Release 1.1.0 deployed on web1, web2 (from 1.0.0)"),
    "first deploy": ("deploy", "1.0.0", [sw("web1", None, "1.0.0")], [],
                     "deployed", "ok", "Release 1.0.0 deployed on web1"),
    "refused": ("deploy", "2.0.0", [], [{"host": "web1", "msg": "release 2.0.0 is not compatible"}],
                "refused", "failed",
                "Deploy of release 2.0.0 refused before any host changed: web1: release 2.0.0 is not compatible"),
    "rolled back by itself": (
        "deploy", "1.4.0",
        [sw("web1", "1.1.0", "1.4.0"), sw("web2", "1.1.0", "1.1.0", "1.4.0", restored=True, failed=True),
         sw("web1", "1.4.0", "1.1.0")],
        [{"host": "web2", "msg": "unhealthy; restored"}, {"host": "web2", "msg": "release 1.4.0 failed"}],
        "failed_rolled_back", "failed",
        "Release 1.4.0 failed on web2 and was rolled back on web1, web2: web2: unhealthy; restored"),
    "failed, nothing to restore": (
        "deploy", "1.0.0", [sw("web1", None, "1.0.0", failed=True)], [{"host": "web1", "msg": "unhealthy"}],
        "failed", "failed", "Release 1.0.0 failed on web1; web1 serve(s) 1.0.0: web1: unhealthy"),
    "rollback": ("rollback", None, [sw("web1", "1.1.0", "1.0.0"), sw("web2", "1.0.0", "1.0.0", switched=False)],
                 [], "rolled_back", "ok", "Rolled back web1, web2 to 1.0.0 (from 1.1.0)"),
    "rollback refused": ("rollback", None, [], [{"host": "web1", "msg": "1.0.0 is marked bad"}],
                         "refused", "failed",
                         "Rollback to the release refused before any host changed: web1: 1.0.0 is marked bad"),
}


@pytest.mark.parametrize("name", CASES)
def test_outcome_and_summary(name):
    kind, release, switches, failures, outcome, status, summary = CASES[name]
    event = run_event(kind, environment="staging", release=release, switches=switches, failures=failures,
                      who={"user": "ci", "commit": "abc", "change_ticket": None}, at="2024-01-01T00:00:00Z")
    assert (event["details"]["outcome"], event["status"], event["summary"]) == (outcome, status, summary)
    assert event["details"]["user"] == "ci" and "change_ticket" not in event["details"]
    text = payload(event, "slack")["text"]
    assert text == f"[stackguard staging] {kind} {'OK' if status == 'ok' else 'FAILED'}: {summary}"


def test_hosts_from_to_and_result_per_host():
    _, release, switches, failures, *_ = CASES["rolled back by itself"]
    event = run_event("deploy", release=release, switches=switches, failures=failures)
    assert event["details"]["hosts"] == {"web1": {"from": "1.1.0", "to": "1.1.0", "result": "rolled_back"},
                                         "web2": {"from": "1.1.0", "to": "1.1.0", "result": "restored"}}
    assert event["details"]["failed_hosts"] == ["web2"]


def test_a_long_reason_and_many_hosts_stay_short_and_no_secret_key_is_sent():
    switches = [sw(f"web{n}", "1.0.0", "1.1.0") for n in range(1, 13)]
    event = run_event("deploy", release="1.1.0", switches=switches,
                      failures=[{"host": "web3", "msg": "x" * 2000}], who={"api_token": "s3cret"})
    assert len(event["details"]["reason"]) == 500 and event["details"]["reason"].endswith("...")
    assert "web1, web10, web11, web12, web2, web3, web4, web5 and 4 more" in event["summary"]
    assert "s3cret" not in str(event)


def test_only_deploy_and_rollback_runs():
    with pytest.raises(ValueError, match="kind must be one of deploy, rollback"):
        run_event("site")
