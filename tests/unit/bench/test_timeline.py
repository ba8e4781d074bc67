"""bench/timeline.py: tasks mapped to deploy phases, timeline files read, the SVG well-formed."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from bench import timeline

SVG = "{http://www.w3.org/2000/svg}"

# Today's task names (role, task, action) and the phase each must land in; a name nobody knows
# lands in "other".
CASES = [
    ("preflight", "Check the inventory", "ansible.builtin.include_tasks", "preflight"),
    ("preflight", "Check the deployed release supports the pinned stack", "release_compat", "preflight"),
    ("deploy_lock", "Identify this run (user, controller, run id, the runs alive on the controller)",
     "ansible.builtin.set_fact", "lock"),
    ("deploy_lock", "Take the deploy lock", "deploy_lock", "lock"),
    ("app_deploy", "Fetch and verify the release artifact on the controller", "ansible.builtin.include_tasks",
     "artifact"),
    ("app_deploy", "Download the release artifact with its checksum", "ansible.builtin.get_url", "artifact"),
    ("app_deploy", "Settle the sha256 the artifact must have", "ansible.builtin.set_fact", "artifact"),
    ("app_deploy", "Unpack the release on the controller to read its metadata and migrations",
     "ansible.builtin.unarchive", "artifact"),
    ("app_deploy", "Read the runtime this web host really runs", "stack_facts", "checks"),
    ("app_deploy", "Refuse a release this host's runtime cannot run", "release_compat", "checks"),
    ("app_deploy", "Refuse migrations the previous release could not run on (expand-only)",
     "ansible.builtin.assert", "checks"),
    ("app_deploy", "Create the release directories", "ansible.builtin.file", "stage"),
    ("app_deploy", "Write the app configuration with its secrets", "ansible.builtin.template", "stage"),
    ("app_deploy", "Check whether the release is already staged, and from which artifact",
     "ansible.builtin.stat", "stage"),
    ("app_deploy", "Lint every PHP file with this host's own PHP", "ansible.builtin.command", "stage"),
    ("app_deploy", "Record which artifact the release came from", "ansible.builtin.copy", "stage"),
    ("app_deploy", "Write the Apache site for the app", "ansible.builtin.template", "stage"),
    ("app_deploy", "Take the pre-deploy backup before the schema changes", "ansible.builtin.include_role",
     "migrate"),
    ("app_deploy", "Apply the release's migrations once, on the database host", "sql_migrations", "migrate"),
    ("app_deploy", "Point the local preview site at the staged release", "ansible.builtin.file", "candidate"),
    ("app_deploy", "Require the release's smoke URLs to answer on the preview site", "ansible.builtin.uri",
     "candidate"),
    (None, "Drain, switch, health-check and re-enable this host", "ansible.builtin.include_role", "switch"),
    ("rolling_switch", "Drain, switch, health-check, re-enable and record this host", "release_switch", "switch"),
    ("app_deploy", "Switch back every host that already serves the failed release", "release_switch",
     "rollback"),
    ("app_deploy", "Mark the release bad on every other web host", "release_state", "rollback"),
    ("app_deploy", "Mark the release good, the new last known-good", "release_state", "finish"),
    ("app_deploy", "Keep the newest releases, never the current or last known-good one", "release_state",
     "finish"),
    ("deploy_lock", "Release the deploy lock", "deploy_lock", "finish"),
    ("app_rollback", "Lock, choose and check the release to roll back to", "rollback_plan", "checks"),
    # The names of the one-call-per-step rewrite.
    ("app_deploy", "Fetch the release artifact, verify its sha256 and read its metadata and migrations",
     "release_artifact", "artifact"),
    ("app_deploy", "List the migrations the database has not applied yet, and read the server's version",
     "sql_migrations", "checks"),
    ("app_deploy", "Check the release against this host, stage it and lint it with the host's own PHP",
     "release_stage", "stage"),
    ("app_deploy", "Point the local preview site at the staged release and require /healthz and the smoke URLs",
     "release_switch", "candidate"),
    ("app_site", "Write the app's site and its local-only preview site", "ansible.builtin.template", "stage"),
    ("app_deploy", "Mark the release good, the new last known-good, and keep only the newest releases",
     "release_state", "finish"),
    # Renamed tasks fall back on their action, then their role; the rest is "other".
    ("app_deploy", "Do the whole switch in one go", "stackguard.ops.release_switch", "switch"),
    ("app_deploy", "Apply everything", "sql_migrations", "migrate"),
    ("app_deploy", "Do it all", "release_stage", "stage"),
    ("deploy_lock", "Hold on", "ansible.builtin.set_fact", "lock"),
    ("app_deploy", "Something new", "ansible.builtin.command", "other"),
    (None, "Ping", "ansible.builtin.ping", "other"),
]


@pytest.mark.parametrize(("role", "task", "action", "phase"), CASES)
def test_phase_of(role, task, action, phase):
    assert timeline.phase_of({"role": role, "task": task, "action": action}) == phase


def test_every_phase_has_a_colour():
    assert {rule[0] for rule in timeline.PHASES} | {timeline.OTHER} <= set(timeline.COLOURS)
    assert timeline.phase_of({}) == timeline.OTHER


def line(host, task, start, end, role="app_deploy", action="ansible.builtin.command", status="ok"):
    return {"host": host, "play": "p", "role": role, "task": task, "action": action, "start": start, "end": end,
            "status": status}


RECORDS = [
    line("lb1", "Check the inventory", 100.0, 101.0, role="preflight"),
    line("web1", "Check the inventory", 100.0, 101.5, role="preflight"),
    line("web1", "Lint every PHP file with this host's own PHP", 102.0, 104.0),
    line("web2", "Lint every PHP file with this host's own PHP", 103.0, 105.0),
    line("web1", "Drain, switch, health-check and re-enable <this> host & more", 106.0, 108.0,
         role="rolling_switch", status="failed"),
    line("web2", "Skipped thing", 108.0, 108.1, status="skipped"),
]


def test_summary_spans_are_unions_and_hosts_sum_their_tasks():
    info = timeline.summary(RECORDS)
    assert info["start"] == 100.0 and info["end"] == 108.1
    assert info["phases"]["preflight"] == {"span": 1.5, "tasks": 2}  # 100-101 and 100-101.5 overlap
    assert info["phases"]["stage"] == {"span": 3.0, "tasks": 2}      # 102-104 and 103-105
    assert info["phases"]["switch"]["span"] == 2.0
    assert info["hosts"]["web1"] == {"preflight": 1.5, "stage": 2.0, "switch": 2.0}
    assert list(info["phases"]) == ["preflight", "stage", "switch", "other"]  # in the order of a deploy
    assert timeline.summary([])["phases"] == {}


def test_load_keeps_finished_lines_and_names_a_bad_file(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(RECORDS[0]) + "\n\n" + json.dumps({**RECORDS[1], "end": None}) + "\n",
                    encoding="utf-8")
    assert timeline.load(path) == [RECORDS[0]]
    path.write_text("PLAY [x] ****\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"t.jsonl:1: not a JSON line"):
        timeline.load(path)


def test_hosts_in_order():
    assert timeline.hosts_in_order(RECORDS) == ["lb1", "web1", "web2"]
    assert timeline.hosts_in_order(RECORDS, ["web2", "nobody", "lb1"]) == ["web2", "lb1", "web1"]


def test_svg_is_well_formed_with_a_bar_per_task_and_the_markers():
    markers = [{"host": "web1", "time": 107.0, "label": "web1: current -> 9.1.0"},
               {"host": "web1", "time": 500.0, "label": "outside the run"}]
    text = timeline.render_svg(RECORDS, "deploy <of> 'a' & release", hosts=["lb1", "web1", "web2"],
                               markers=markers)
    root = ET.fromstring(text)
    assert root.tag == f"{SVG}svg"
    bars = [rect for rect in root.iter(f"{SVG}rect") if rect.find(f"{SVG}title") is not None]
    assert len(bars) == len(RECORDS)
    titles = [bar.find(f"{SVG}title").text for bar in bars]
    assert "rolling_switch: Drain, switch, health-check and re-enable <this> host & more [switch, failed, 2.00 s]" \
        in titles
    failed = [bar for bar in bars if "failed" in bar.find(f"{SVG}title").text]
    assert failed[0].get("stroke") == "#b00000"
    assert [bar for bar in bars if "Skipped" in bar.find(f"{SVG}title").text][0].get("fill-opacity") == "0.35"
    texts = [node.text for node in root.iter(f"{SVG}text")]
    assert "deploy <of> 'a' & release" in texts
    assert [t for t in texts if t in ("lb1", "web1", "web2")] == ["lb1", "web1", "web2"]
    assert any(t and t.startswith("preflight: 1.5 s") for t in texts)
    marker_lines = [node for node in root.iter(f"{SVG}line") if node.find(f"{SVG}title") is not None]
    assert [node.find(f"{SVG}title").text for node in marker_lines] == ["web1: current -> 9.1.0"]
    # Bars sit inside the plot, in time order along x.
    xs = [float(bar.get("x")) for bar in bars]
    assert all(110 <= x <= 960 for x in xs)
    width = float(root.get("width"))
    assert all(float(bar.get("x")) + float(bar.get("width")) <= width for bar in bars)


def test_svg_of_an_empty_timeline_is_still_well_formed():
    root = ET.fromstring(timeline.render_svg([], "nothing ran"))
    assert root.tag == f"{SVG}svg"


@pytest.mark.parametrize(("seconds", "step"), [(3, 0.5), (9, 1), (40, 5), (95, 10), (400, 60), (20000, 2400)])
def test_tick_step_keeps_about_ten_ticks(seconds, step):
    assert timeline._tick_step(seconds) == step


def run_line(host, play, run, task_id, start, end, status="ok"):
    return {"host": host, "play": play, "role": None, "task": task_id, "action": "x", "start": start,
            "end": end, "status": status, "run": run, "task_id": task_id}


# A deploy of two web hosts with serial 1: a play on both at once (two tasks), the switch play once
# per host (the same task in both batches), then a last play on both.
SERIAL_RUN = [
    run_line("web1", "Stage", 1, "t-stage", 10.0, 12.0),
    run_line("web2", "Stage", 1, "t-stage", 10.1, 12.5),
    run_line("web1", "Stage", 1, "t-skip", 12.6, 12.6, status="skipped"),
    run_line("web2", "Stage", 1, "t-skip", 12.7, 12.7, status="skipped"),
    run_line("web1", "Switch", 2, "t-switch", 13.0, 13.5),
    run_line("web2", "Switch", 3, "t-switch", 14.0, 14.6),
    run_line("web1", "Finish", 4, "t-finish", 15.0, 15.4),
    run_line("web2", "Finish", 4, "t-finish", 15.0, 15.3),
]


def test_play_runs_count_a_round_per_task_and_batch():
    runs = timeline.play_runs(list(reversed(SERIAL_RUN)))  # in run order, whatever the lines' order
    assert [(r["run"], r["play"], r["hosts"], r["rounds"]) for r in runs] == [
        (1, "Stage", 2, 2), (2, "Switch", 1, 1), (3, "Switch", 1, 1), (4, "Finish", 2, 1)]
    assert runs[0]["start"] == 10.0 and runs[0]["end"] == 12.7
    assert runs[2]["seconds"] == pytest.approx(0.6)


def test_batch_split_tells_the_plays_at_once_from_the_play_per_batch():
    split = timeline.batch_split(SERIAL_RUN)
    assert split["per_batch"] == {"plays": 2, "rounds": 2, "seconds": pytest.approx(1.1), "batches": 2,
                                  "intervals": [(13.0, 13.5), (14.0, 14.6)]}
    assert split["once"]["plays"] == 2 and split["once"]["rounds"] == 3
    assert split["once"]["seconds"] == pytest.approx(2.7 + 0.4)
    one_batch = timeline.batch_split([line for line in SERIAL_RUN if line["run"] != 3])
    assert one_batch["per_batch"]["batches"] == 0 and one_batch["once"]["rounds"] == 4


def test_rounds_need_lines_with_run_and_task_id():
    with pytest.raises(ValueError, match=r"without run and task_id \(.Lint every PHP file.*record the run again"):
        timeline.play_runs(RECORDS[2:])
