"""The stackguard_timeline callback, enabled in real `ansible-playbook` runs on localhost.

One run of a two-play playbook over two local hosts and one unreachable one: a line per task and
host with its start, end and status, the role of role tasks, templated names, one line for a loop
and for a run_once task, nothing from the results; then the ini option, and a log that cannot be
written (a warning, the run still succeeds).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]
BIN = REPO / ".venv" / "bin"

pytestmark = pytest.mark.skipif(not (BIN / "ansible-playbook").exists(),
                                reason=f"{BIN / 'ansible-playbook'} is not installed (make toolchain)")

KEYS = {"host", "play", "role", "task", "action", "start", "end", "status", "run", "task_id"}
LOCAL = {"ansible_connection": "local", "ansible_python_interpreter": str(BIN / "python")}
INVENTORY = {"all": {"hosts": {
    "h1": LOCAL, "h2": LOCAL,
    # Nothing listens on port 9 of the loopback: refused at once, the host is unreachable.
    "ghost": {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 9,
              "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o ConnectTimeout=3"},
}}}
ROLE_TASKS = [{"name": "In role {{ label }}", "ansible.builtin.command": "true", "changed_when": False}]
PLAYBOOK = [
    {"name": "Timed play", "hosts": "all", "gather_facts": False,
     "vars": {"label": "templated", "secret_value": "do-not-log-me"},
     "tasks": [
         {"name": "Sleep {{ label }}", "ansible.builtin.command": "sleep 0.4", "changed_when": False},
         {"name": "Loop", "ansible.builtin.debug": {"msg": "{{ secret_value }} {{ item }}"}, "loop": [1, 2, 3]},
         {"name": "Skipped", "ansible.builtin.debug": {"msg": "x"}, "when": False},
         {"name": "Ignored failure", "ansible.builtin.fail": {"msg": "{{ secret_value }}"}, "ignore_errors": True},
         {"name": "Once", "ansible.builtin.command": "true", "run_once": True, "changed_when": True},
         {"name": "Include the role", "ansible.builtin.include_role": {"name": "timed_role"}},
         {"ansible.builtin.ping": {}},
         {"name": "Fail on h2", "ansible.builtin.fail": {"msg": "h2 fails"},
          "when": "inventory_hostname == 'h2'"},
     ]},
    {"name": "Second play", "hosts": "h1", "gather_facts": False,
     "tasks": [{"name": "Last", "ansible.builtin.debug": {"msg": "done"}}]},
]


def run_playbook(tmp_path, playbook, env_extra, config=None):
    (tmp_path / "roles" / "timed_role" / "tasks").mkdir(parents=True, exist_ok=True)
    (tmp_path / "roles" / "timed_role" / "tasks" / "main.yml").write_text(json.dumps(ROLE_TASKS), encoding="utf-8")
    (tmp_path / "inventory.yml").write_text(json.dumps(INVENTORY), encoding="utf-8")  # JSON is YAML
    (tmp_path / "playbook.yml").write_text(json.dumps(playbook), encoding="utf-8")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("ANSIBLE_", "STACKGUARD_TIMELINE"))}
    env.update(ANSIBLE_CONFIG=str(config or REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_ROLES_PATH=str(tmp_path / "roles"), ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
               ANSIBLE_CALLBACK_PLUGINS=str(REPO / "plugins" / "callback"),
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **env_extra)
    return subprocess.run([str(BIN / "ansible-playbook"), "-i", str(tmp_path / "inventory.yml"),
                           str(tmp_path / "playbook.yml")], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=180)


@pytest.fixture(scope="module")
def timed_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("timeline")
    log = tmp_path / "state" / "nested" / "timeline.jsonl"
    proc = run_playbook(tmp_path, PLAYBOOK, {"ANSIBLE_CALLBACKS_ENABLED": "stackguard_timeline",
                                             "STACKGUARD_TIMELINE_LOG": str(log)})
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    return proc, log, lines


def lines_for(lines, task, host=None):
    return [line for line in lines if line["task"] == task and (host is None or line["host"] == host)]


def test_the_run_fails_where_it_should_and_the_callback_stays_quiet(timed_run):
    proc, log, lines = timed_run
    assert proc.returncode in (2, 4), proc.stdout + proc.stderr  # h2 fails, ghost is unreachable
    assert "stackguard_timeline" not in proc.stdout + proc.stderr  # no warning from the callback
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert lines and all(set(line) == KEYS for line in lines)


def test_one_line_per_task_and_host_with_its_status(timed_run):
    _, _, lines = timed_run
    statuses = {(line["task"], line["host"]): line["status"] for line in lines}
    for host in ("h1", "h2"):
        assert statuses[("Sleep templated", host)] == "ok"
        assert statuses[("Skipped", host)] == "skipped"
        assert statuses[("Ignored failure", host)] == "ignored"
        assert statuses[("Include the role", host)] == "ok"
        assert statuses[("ansible.builtin.ping", host)] == "ok"  # a nameless task is named by its action
        assert len(lines_for(lines, "Loop", host)) == 1  # one line for the whole loop
    assert statuses[("Fail on h2", "h2")] == "failed"
    assert statuses[("Fail on h2", "h1")] == "skipped"
    assert statuses[("Sleep templated", "ghost")] == "unreachable"
    assert not [line for line in lines if line["host"] == "ghost" and line["task"] != "Sleep templated"]
    once = lines_for(lines, "Once")
    assert len(once) == 1 and once[0]["status"] == "changed"
    assert [line["host"] for line in lines_for(lines, "Last")] == ["h1"]


def test_plays_roles_and_actions(timed_run):
    _, _, lines = timed_run
    role_lines = lines_for(lines, "In role templated")
    assert sorted(line["host"] for line in role_lines) == ["h1", "h2"]
    assert {line["role"] for line in role_lines} == {"timed_role"}
    assert {line["action"] for line in role_lines} == {"ansible.builtin.command"}
    assert {line["role"] for line in lines if line["task"] != "In role templated"} == {None}
    assert {line["play"] for line in lines if line["task"] == "Last"} == {"Second play"}
    assert {line["play"] for line in lines if line["task"] == "Loop"} == {"Timed play"}


def test_start_and_end_follow_the_run(timed_run):
    _, _, lines = timed_run
    for line in lines:
        assert line["start"] <= line["end"], line
    sleeps = lines_for(lines, "Sleep templated", "h1") + lines_for(lines, "Sleep templated", "h2")
    assert all(0.4 <= line["end"] - line["start"] < 60 for line in sleeps)
    for host in ("h1", "h2"):
        mine = sorted((line for line in lines if line["host"] == host), key=lambda line: line["start"])
        order = [line["task"] for line in mine]
        assert order.index("Sleep templated") < order.index("Loop") < order.index("In role templated")
        for before, after in zip(mine, mine[1:]):  # one task at a time on a host (linear strategy)
            assert before["end"] <= after["start"] + 0.001, (before, after)


def test_a_serial_play_runs_once_per_batch_and_a_task_keeps_its_id(tmp_path):
    """`run` tells the batches of a serial play apart; (run, task_id) is one round of the strategy."""
    log = tmp_path / "timeline.jsonl"
    playbook = [
        {"name": "All at once", "hosts": "h1,h2", "gather_facts": False,
         "tasks": [{"name": "First", "ansible.builtin.ping": {}}]},
        {"name": "One at a time", "hosts": "h1,h2", "gather_facts": False, "serial": 1,
         "tasks": [{"name": "Per batch", "ansible.builtin.ping": {}},
                   {"name": "Then", "ansible.builtin.debug": {"msg": "x"}}]},
    ]
    proc = run_playbook(tmp_path, playbook, {"ANSIBLE_CALLBACKS_ENABLED": "stackguard_timeline",
                                             "STACKGUARD_TIMELINE_LOG": str(log)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    runs = {(line["task"], line["host"]): line["run"] for line in lines}
    assert runs[("First", "h1")] == runs[("First", "h2")] == 1
    assert runs[("Per batch", "h1")] == runs[("Then", "h1")] == 2
    assert runs[("Per batch", "h2")] == runs[("Then", "h2")] == 3
    ids = {line["task"]: set() for line in lines}
    for line in lines:
        ids[line["task"]].add(line["task_id"])
    assert all(len(found) == 1 for found in ids.values()), ids  # the same task in every batch
    assert len({found.pop() for found in ids.values()}) == 3


def test_nothing_from_arguments_or_results_is_written(timed_run):
    _, log, _ = timed_run
    text = log.read_text(encoding="utf-8")
    assert "do-not-log-me" not in text and "h2 fails" not in text


def test_log_path_from_the_ini_file(tmp_path):
    log = tmp_path / "from-ini.jsonl"
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\ncallbacks_enabled = stackguard_timeline\n"
                      f"[callback_stackguard_timeline]\nlog_path = {log}\n", encoding="utf-8")
    playbook = [{"name": "Short", "hosts": "h1", "gather_facts": False,
                 "tasks": [{"name": "Only", "ansible.builtin.debug": {"msg": "x"}}]}]
    proc = run_playbook(tmp_path, playbook, {}, config=config)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (line,) = [json.loads(text) for text in log.read_text(encoding="utf-8").splitlines()]
    assert (line["host"], line["play"], line["task"], line["status"]) == ("h1", "Short", "Only", "ok")


def test_a_log_that_cannot_be_written_warns_once_and_the_run_goes_on(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    playbook = [{"name": "Short", "hosts": "h1", "gather_facts": False,
                 "tasks": [{"name": "One", "ansible.builtin.debug": {"msg": "x"}},
                           {"name": "Two", "ansible.builtin.debug": {"msg": "y"}}]}]
    proc = run_playbook(tmp_path, playbook, {"ANSIBLE_CALLBACKS_ENABLED": "stackguard_timeline",
                                             "STACKGUARD_TIMELINE_LOG": str(blocker / "timeline.jsonl")})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    output = proc.stdout + proc.stderr
    assert output.count("stackguard_timeline: could not write the timeline") == 1, output


def test_not_enabled_writes_nothing(tmp_path):
    log = tmp_path / "never.jsonl"
    playbook = [{"name": "Short", "hosts": "h1", "gather_facts": False,
                 "tasks": [{"name": "One", "ansible.builtin.debug": {"msg": "x"}}]}]
    proc = run_playbook(tmp_path, playbook, {"STACKGUARD_TIMELINE_LOG": str(log)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not log.exists()


def test_ansible_doc_renders_the_documentation():
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    proc = subprocess.run([str(BIN / "ansible-doc"), "-t", "callback", "--json", "stackguard_timeline"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)["stackguard_timeline"]["doc"]
    assert doc["short_description"]
    assert doc["options"]["log_path"]["env"] == [{"name": "STACKGUARD_TIMELINE_LOG"}]
