"""The stackguard_notify callback in real `ansible-playbook` runs, posting to real local listeners.

Each case runs a small deploy-shaped playbook on two local hosts (web1, web2): one real
release_switch call per host against its own app root, its own /healthz server (the one the
release_switch tests use) and a recording reload script, with the host's deployment log beside
the root. The playbook's file name decides whether it notifies (deploy.yml, rollback.yml; not
site.yml). The webhooks are HTTP servers on 127.0.0.1 in this process: one answering slack-style,
one generic, one closed port and one that answers too late. The runs start together, once.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pytest

from ansible.module_utils.notify import display_url
from tests.unit.plugins.module_utils.test_release_switch import HealthServer, reload_script, stage
from tests.webhook_listener import WebhookListener, closed_url

REPO = Path(__file__).resolve().parents[4]
PLAYBOOK_BIN = REPO / ".venv" / "bin" / "ansible-playbook"
SECRET = "s3cret-hook-value"

pytestmark = pytest.mark.skipif(not PLAYBOOK_BIN.exists(),
                                reason=f"{PLAYBOOK_BIN} is not installed (make toolchain)")

# One play, as deploy.yml's switch play: one host at a time, each switched by one call; a failure
# switches the hosts of earlier batches back (delegated, as app_deploy's rescue does) and stops.
SWITCH = {
    "root": "{{ app_root }}", "version": "{{ target }}", "reload_command": "{{ reload_argv }}",
    "health_url": "{{ health_url }}", "health_interval": 0.05, "health_timeout": 2,
    "log_file": "{{ log_file }}", "action": "{{ action }}",
    "who": {"user": "{{ lookup('env', 'USER') | default('', true) }}", "controller": "controller-1",
            "ci_run_id": "{{ lookup('env', 'STACKGUARD_CI_RUN_ID') }}", "commit": "{{ preflight_commit }}",
            "change_ticket": "{{ change_ticket }}"},
}
PLAY = [{
    "name": "Switch the web hosts, a batch at a time", "hosts": "web", "serial": 1,
    "max_fail_percentage": 0, "gather_facts": False,
    "vars": {"target": "{{ stackguard_app_release.version }}", "action": "deploy",
             "vault_webhook_token": SECRET},
    "tasks": [
        {"name": "Refuse when asked (a preflight refusal, its message a secret)",
         "ansible.builtin.fail": {"msg": "refused: {{ vault_webhook_token }}"},
         "no_log": True, "when": "refuse | default(false) | bool"},
        {"name": "Switch, or switch every switched host back", "block": [
            {"name": "Switch this host", "release_switch": SWITCH, "register": "switched"}],
         "rescue": [
             {"name": "Switch web1 back (switched in the batch before)", "delegate_to": "web1",
              "when": "inventory_hostname == 'web2'",
              "release_switch": dict(SWITCH, root="{{ hostvars.web1.app_root }}",
                                     version="{{ hostvars.web1.switched.previous }}",
                                     health_url="{{ hostvars.web1.health_url }}",
                                     reload_command="{{ hostvars.web1.reload_argv }}",
                                     log_file="{{ hostvars.web1.log_file }}",
                                     action="automatic_rollback")},
             {"name": "Stop the rollout", "ansible.builtin.fail": {
                 "msg": "release {{ target }} failed on {{ inventory_hostname }} and was rolled back"}}]},
    ],
}]

CASES = {
    # name: (playbook file, current before, version, bad releases per host, webhooks, extra)
    "deployed": ("deploy.yml", "1.0.0", "1.1.0", {}, ("slack", "generic"), {}),
    "rolled_back_by_itself": ("deploy.yml", "1.0.0", "1.1.0", {"web2": "1.1.0"}, ("generic",), {}),
    "refused": ("deploy.yml", "1.0.0", "1.1.0", {}, ("slack", "generic"), {"refuse": True}),
    "rollback": ("rollback.yml", "1.1.0", "1.0.0", {}, ("slack", "generic"), {"action": "rollback"}),
    "hooks_down": ("deploy.yml", "1.0.0", "1.1.0", {}, ("down", "slow"), {}),
    "site": ("site.yml", "1.0.0", "1.1.0", {}, ("generic",), {}),
    "check": ("deploy.yml", "1.0.0", "1.1.0", {}, ("generic",), {"__check": True}),
}


def _run(base, playbook_name, inventory, extra, check):
    playbook = base / playbook_name
    playbook.write_text(json.dumps(PLAY, indent=2), encoding="utf-8")  # JSON is YAML
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_RUN_ID", "CI_PIPELINE_ID")}
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_CALLBACKS_ENABLED="stackguard_notify", ANSIBLE_CACHE_PLUGIN="memory",
               STACKGUARD_CI_RUN_ID="run-4711", STACKGUARD_NOTIFY_TIMEOUT="1",
               ANSIBLE_LOCAL_TEMP=str(base / "ansible-tmp"),
               PATH=f"{REPO / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    argv = [str(PLAYBOOK_BIN), "-i", str(inventory), str(playbook), "-e", json.dumps(extra)]
    started = time.monotonic()
    proc = subprocess.run(argv + (["--check"] if check else []), cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=180)
    return proc, time.monotonic() - started


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    with ExitStack() as stack:
        specs = {}
        for name, (playbook, before, version, bad, styles, extra) in CASES.items():
            base = tmp_path_factory.mktemp(name)
            hosts, hooks, webhooks = {}, {}, []
            for host in ("web1", "web2"):
                root = base / host / "app"
                for v in ("1.0.0", "1.1.0"):
                    stage(root, v)
                os.symlink(f"releases/{before}", root / "current")
                argv, _ = reload_script(base / host, root)
                server = stack.enter_context(HealthServer(root))
                if bad.get(host):
                    server.bad(bad[host])
                # the callback is told a delegated call's ansible_host, and names the host
                hosts[host] = {"ansible_connection": "local", "ansible_host": f"sg-unit-{host}",
                               "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                               "app_root": str(root), "reload_argv": argv, "health_url": server.url,
                               "log_file": str(base / host / "log" / "deployments.jsonl")}
            for style in styles:
                if style == "down":
                    webhooks.append({"url": closed_url(f"/down/{SECRET}"), "style": "generic"})
                    continue
                hook = WebhookListener(delay=4.0 if style == "slow" else 0.0)
                stack.callback(hook.close)
                hooks[style] = hook
                webhooks.append({"url": f"{hook.base}/hooks/T000/{SECRET}",
                                 "style": "generic" if style == "slow" else style})
            inventory = base / "hosts.yml"
            inventory.write_text(json.dumps({"all": {
                "vars": {"stackguard_environment": "unit-env", "stackguard_webhooks": webhooks,
                         "vault_database_app_password": SECRET},
                "children": {"web": {"hosts": hosts}}}}), encoding="utf-8")
            check = extra.pop("__check", False)
            variables = {"stackguard_app_release": {"version": version, "sha256": SECRET},
                         "preflight_commit": "0123abcd", "change_ticket": "CHG-42", **extra}
            specs[name] = (base, playbook, inventory, variables, check, hosts, hooks)
        with ThreadPoolExecutor(max_workers=len(specs)) as pool:
            futures = {name: pool.submit(_run, base, playbook, inventory, variables, check)
                       for name, (base, playbook, inventory, variables, check, _, _) in specs.items()}
            results = {name: future.result() for name, future in futures.items()}
        # {case: (process, seconds, {host: deployment log lines}, {style: bodies received})}
        yield {name: (*results[name],
                      {h: _lines(v["log_file"]) for h, v in specs[name][5].items()},
                      {s: [r["body"] for r in hook.received] for s, hook in specs[name][6].items()})
               for name in specs}


def _lines(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()] if os.path.exists(path) else []


def _output(proc):
    return proc.stdout + proc.stderr


def test_a_deploy_posts_a_slack_body_and_the_generic_event(runs):
    proc, _, _, bodies = runs["deployed"]
    assert proc.returncode == 0, _output(proc)
    assert "stackguard_notify: deploy deployed sent to 2 of 2 webhook(s)" in proc.stdout
    [slack], [generic] = bodies["slack"], bodies["generic"]
    text = "[stackguard unit-env] deploy OK: Release 1.1.0 deployed on web1, web2 (from 1.0.0)"
    assert slack["text"] == text
    [attachment] = slack["attachments"]
    assert attachment["color"] == "#2eb886" and attachment["fallback"] == text
    fields = {f["title"]: f["value"] for f in attachment["fields"]}
    assert fields["release"] == "1.1.0" and fields["outcome"] == "deployed"
    assert fields["commit"] == "0123abcd" and fields["change_ticket"] == "CHG-42"

    assert generic["source"] == "stackguard"
    assert (generic["kind"], generic["status"], generic["environment"]) == ("deploy", "ok", "unit-env")
    assert generic["summary"] == "Release 1.1.0 deployed on web1, web2 (from 1.0.0)"
    details = generic["details"]
    assert details["outcome"] == "deployed" and details["release"] == "1.1.0"
    assert details["hosts"] == {h: {"from": "1.0.0", "to": "1.1.0", "result": "switched"} for h in ("web1", "web2")}
    assert details["ci_run_id"] == "run-4711" and details["user"] and details["controller_host"]
    assert details["playbook"] == "deploy.yml"
    assert "reason" not in details and "failed_hosts" not in details
    assert generic["at"].endswith("Z")


def test_a_deploy_that_failed_and_rolled_itself_back_names_the_host_and_the_reason(runs):
    proc, _, logs, bodies = runs["rolled_back_by_itself"]
    assert proc.returncode == 2, _output(proc)
    [event] = bodies["generic"]
    assert (event["kind"], event["status"]) == ("deploy", "failed")
    details = event["details"]
    assert details["outcome"] == "failed_rolled_back" and details["failed_hosts"] == ["web2"]
    assert details["hosts"] == {"web1": {"from": "1.0.0", "to": "1.0.0", "result": "rolled_back"},
                                "web2": {"from": "1.0.0", "to": "1.0.0", "result": "restored"}}
    assert details["reason"].startswith("web2: ") and "release 1.1.0 reported itself unhealthy" in details["reason"]
    assert "restored current to 1.0.0, which is healthy again" in details["reason"]
    assert event["summary"].startswith("Release 1.1.0 failed on web2 and was rolled back on web1, web2: web2: ")
    # the host logs: web1 switched, then switched back by the rescue; web2 restored by itself
    assert [(e["action"], e["from"], e["to"], e["current"], e["result"]) for e in logs["web1"]] == [
        ("deploy", "1.0.0", "1.1.0", "1.1.0", "switched"),
        ("automatic_rollback", "1.1.0", "1.0.0", "1.0.0", "switched")]
    [web2] = logs["web2"]
    assert (web2["action"], web2["from"], web2["to"], web2["current"], web2["result"]) == (
        "deploy", "1.0.0", "1.1.0", "1.0.0", "restored")
    assert "reported itself unhealthy" in web2["reason"]


def test_a_refused_deploy_says_so_and_leaks_no_secret(runs):
    proc, _, logs, bodies = runs["refused"]
    assert proc.returncode == 2, _output(proc)
    [slack], [generic] = bodies["slack"], bodies["generic"]
    assert generic["details"]["outcome"] == "refused" and generic["status"] == "failed"
    assert generic["summary"] == ("Deploy of release 1.1.0 refused before any host changed: web1: "
                                  "the failed task's output is hidden (no_log)")
    assert slack["text"].startswith("[stackguard unit-env] deploy FAILED: Deploy of release 1.1.0 refused")
    assert slack["attachments"][0]["color"] == "#a30200"
    assert logs == {"web1": [], "web2": []}  # no host was switched
    for body in (slack, generic):
        assert SECRET not in json.dumps(body)
    # ansible-core itself prints a no_log fail's msg in its [ERROR] line; the callback's own lines
    # (and the webhook URLs in them, masked) hold no secret
    notify_lines = [line for line in _output(proc).splitlines() if "stackguard_notify" in line]
    assert notify_lines and not [line for line in notify_lines if SECRET in line]


def test_a_manual_rollback_notifies_as_a_rollback(runs):
    proc, _, logs, bodies = runs["rollback"]
    assert proc.returncode == 0, _output(proc)
    [slack], [generic] = bodies["slack"], bodies["generic"]
    assert slack["text"] == "[stackguard unit-env] rollback OK: Rolled back web1, web2 to 1.0.0 (from 1.1.0)"
    assert (generic["kind"], generic["details"]["outcome"], generic["details"]["release"]) == (
        "rollback", "rolled_back", "1.0.0")
    assert [e["action"] for e in logs["web1"] + logs["web2"]] == ["rollback", "rollback"]


def test_a_webhook_that_is_down_or_slow_is_a_warning_and_never_fails_the_run(runs):
    proc, _, logs, bodies = runs["hooks_down"]
    assert proc.returncode == 0, _output(proc)
    out = _output(proc)
    assert "stackguard_notify: deploy deployed sent to 0 of 2 webhook(s)" in proc.stdout
    assert out.count("did not take the deploy event") == 2, out
    assert "unreachable" in out and "timed out" in out, out
    assert SECRET not in out
    assert len(bodies["slow"]) == 1  # it got the body, and answered after the 1 s timeout
    assert [e["result"] for e in logs["web1"] + logs["web2"]] == ["switched", "switched"]


def test_a_site_converge_and_a_check_run_do_not_notify(runs):
    site, _, site_logs, site_bodies = runs["site"]
    assert site.returncode == 0, _output(site)
    assert site_bodies == {"generic": []} and "stackguard_notify" not in _output(site)
    assert [e["result"] for e in site_logs["web1"]] == ["switched"]  # it did switch
    check, _, check_logs, check_bodies = runs["check"]
    assert check.returncode == 0, _output(check)
    assert check_bodies == {"generic": []} and "stackguard_notify" not in _output(check)
    assert check_logs == {"web1": [], "web2": []}  # a check writes no deployment log either


def test_the_deployment_log_names_who_and_is_0640(runs):
    _, _, logs, _ = runs["deployed"]
    for host in ("web1", "web2"):
        [entry] = logs[host]
        assert entry["who"] == {"user": entry["who"]["user"], "controller": "controller-1",
                                "ci_run_id": "run-4711", "commit": "0123abcd", "change_ticket": "CHG-42"}
        assert entry["time"].endswith("Z") and entry["reason"] is None and entry["elapsed"] >= 0
        assert set(entry) == {"time", "host", "action", "from", "to", "current", "result", "reason",
                              "elapsed", "who"}
    base = Path(runs["deployed"][0].args[2]).parent  # the inventory's directory
    log = base / "web1" / "log" / "deployments.jsonl"
    assert oct(log.stat().st_mode & 0o777) == oct(0o640)
    assert oct(log.parent.stat().st_mode & 0o777) == oct(0o750)


def test_display_url_hides_the_secret_path():
    assert SECRET not in display_url(f"http://127.0.0.1:1/hooks/T000/{SECRET}")
