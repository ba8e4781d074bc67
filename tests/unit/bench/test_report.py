"""bench/report.py and the pure parts of bench/deploy.py and bench/runner.py: summaries, ratios to
the floor, targets and verdicts, serial batches, fits, the failover measured from watcher events,
the JSON written, and the cgroup memory read from real files."""

from __future__ import annotations

import json
import math
import shutil

import pytest

from bench import deploy, report, runner


def test_summarize_and_ratio_to_the_floor():
    floor = report.measurement("floor", "no-op", [2.0, 3.0, 2.5])
    assert (floor["median"], floor["min"], floor["max"], floor["runs"]) == (2.5, 2.0, 3.0, 3)
    assert floor["ratio"] is None and floor["floor"] is None
    row = report.measurement("deploy", "deploy", [10.0, 14.0, 12.0, 11.0], floor=floor)
    assert row["median"] == 11.5 and row["ratio"] == pytest.approx(11.5 / 2.5) and row["floor"] == "floor"
    with pytest.raises(ValueError, match="never ran"):
        report.summarize([])


@pytest.mark.parametrize(("value", "op", "limit", "verdict"), [
    (6.0, "<=", 6.0, "PASS"), (6.01, "<=", 6.0, "ABOVE"), (4.99, "<", 5.0, "PASS"), (5.0, "<", 5.0, "ABOVE"),
    (0, "==", 0, "PASS"), (3, "==", 0, "ABOVE"), (None, "<=", 2.0, "ABOVE"),
])
def test_target_verdicts(value, op, limit, verdict):
    assert report.target(8, "x", value, op, limit, "s")["verdict"] == verdict


def test_unknown_comparison_is_refused():
    with pytest.raises(ValueError, match="unknown comparison '>'"):
        report.target(8, "x", 1, ">", 0, "s")


@pytest.mark.parametrize(("hosts", "serial", "expected"), [
    (2, 1, 2), (8, "1", 8), (16, "25%", 4), (8, "25%", 4), (2, "25%", 2), (10, "30%", 4), (16, 5, 4),
    (16, 0, 1), (16, "100%", 1), (0, 1, 0),
])
def test_batches_as_ansible_makes_them(hosts, serial, expected):
    assert report.batches(hosts, serial) == expected


@pytest.mark.parametrize(("hosts", "serial", "expected"), [(16, "25%", 4), (2, "25%", 1), (10, "30%", 3), (8, 3, 3),
                                                        (8, "0", 8)])
def test_batch_size(hosts, serial, expected):
    assert report.batch_size(hosts, serial) == expected


def test_linear_fit():
    a, b, r2 = report.linear_fit([(1, 12.0), (2, 14.0), (4, 18.0)])
    assert (a, b, r2) == (pytest.approx(10.0), pytest.approx(2.0), pytest.approx(1.0))
    assert report.linear_fit([(2, 1.0), (2, 3.0)]) is None
    assert report.linear_fit([(2, 1.0)]) is None
    assert report.linear_fit([(1, 1.0), (2, 3.0), (3, 2.0)])[2] < 1


def test_linear_fit2_separates_two_causes():
    points = [(b, t, 5.0 + 1.5 * b + 0.05 * t) for b, t in ((2, 105), (8, 295), (4, 295), (16, 543), (4, 543))]
    a, b, c, r2 = report.linear_fit2(points)
    assert (a, b, c, r2) == (pytest.approx(5.0), pytest.approx(1.5), pytest.approx(0.05), pytest.approx(1.0))
    assert report.linear_fit2(points[:3]) is None                           # too few points
    assert report.linear_fit2([(x, 2 * x, x) for x in range(1, 6)]) is None  # x2 moves with x1


def test_table_and_targets_print_every_row():
    floor = report.measurement("floor_playbook", "no-op playbook (floor)", [2.0])
    rows = [floor, report.measurement("deploy", "deploy (new release)", [9.0], floor=floor)]
    table = report.format_table(rows)
    assert table[0].split()[:5] == ["what", "runs", "median", "min", "max"]
    assert "4.50x" in table[2] and table[2].rstrip().endswith("no-op playbook (floor)")
    lines = report.format_targets([report.target(8, "deploy <= 6x the floor", 4.5, "<=", 6.0, "x floor"),
                                   report.target(8, "failed requests = 0", 2, "==", 0, "requests")])
    assert lines[0].startswith("issue 8: deploy") and "4.50x" in lines[0] and lines[0].endswith("PASS")
    assert lines[1].endswith("ABOVE") and " 2 " in lines[1]


def test_write_json_is_atomic_and_readable(tmp_path):
    path = tmp_path / "deeper" / "report.json"
    report.write_json(str(path), {"b": [1, math.pi], "a": None})
    assert json.loads(path.read_text(encoding="utf-8")) == {"a": None, "b": [1, math.pi]}
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]  # no temp file left
    with pytest.raises(TypeError):
        report.write_json(str(path), {"not json": object()})
    assert json.loads(path.read_text(encoding="utf-8"))["a"] is None  # the old report is intact
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]


def test_deploy_targets_from_the_rows():
    samples = {"floor_playbook": [2.0, 2.2, 2.1], "deploy": [11.0, 12.0, 13.0], "rollback": [5.0, 5.0, 5.0],
               "failover": [4.0, 6.0, 4.5], "verify_playbook": [3.0, 3.0, 3.0], "floor_ping": [1.0, 1.0, 1.0],
               "stack_verify": [1.2, 1.6, 1.4]}
    rows = deploy.build_rows(samples)
    assert [row["key"] for row in rows] == ["floor_playbook", "deploy", "rollback", "failover", "verify_playbook",
                                            "floor_ping", "stack_verify"]
    verdicts = {(t["issue"], t["what"]): (t["value"], t["verdict"]) for t in deploy.evaluate(rows, 0)}
    assert verdicts[(8, "deploy <= 6x the floor")] == (pytest.approx(12.0 / 2.1), "PASS")
    assert verdicts[(8, "rollback <= 2x the floor")][1] == "ABOVE"   # 2.38x
    assert verdicts[(4, "rollback <= 3x the floor")][1] == "PASS"
    assert verdicts[(8, "failover < 5 s")] == (4.5, "PASS")
    assert verdicts[(8, "failed requests = 0")] == (0, "PASS")
    assert verdicts[(8, "verify.yml <= 1.5x the floor")][1] == "PASS"   # 3.0 / 2.1
    assert verdicts[(8, "stack_verify <= 1.5x the ping")] == (pytest.approx(1.4), "PASS")
    assert deploy.evaluate(rows, 3)[3]["verdict"] == "ABOVE"


def test_failed_requests_are_put_on_the_step_that_ran():
    steps = [("deploy (round 1)", 10.0, 20.0), ("rollback (round 1)", 21.0, 25.0)]
    failures = [{"at": 12.0}, {"at": 24.9}, {"at": 20.5}, {"at": 13.0}]
    assert deploy.failures_by_step(failures, steps) == {"deploy (round 1)": 2, "rollback (round 1)": 1,
                                                       "between steps": 1}


def test_failover_from_the_watcher_events():
    events = {
        "web1": [(0.0, "1.0.0"), (10.0, "2.0.0-fails"), (16.5, "1.0.0")],
        "web2": [(0.0, "1.0.0"), (13.0, "2.0.0-fails"), (14.0, "1.0.0")],
    }
    # web2 fails after its switch at 13.0; web1 is back at 16.5: 3.5 s.
    assert runner.failover_seconds(events, "web2", "2.0.0-fails", "1.0.0") == pytest.approx(3.5)
    # Never went live on the failing host, or a host never came back: no figure.
    assert runner.failover_seconds(events, "web2", "3.0.0", "1.0.0") is None
    stuck = {"web1": [(0.0, "1.0.0"), (10.0, "2.0.0-fails")], "web2": events["web2"]}
    assert runner.failover_seconds(stuck, "web2", "2.0.0-fails", "1.0.0") is None


def test_failing_release_code_names_the_host():
    code = runner.failing_after_switch("web7")
    assert "gethostname() === 'web7'" in code and "http_response_code(503)" in code and "'80'" in code


@pytest.mark.parametrize("version", [1, 2])
def test_memory_read_from_cgroup_files(tmp_path, version):
    if version == 1:
        (tmp_path / "memory.usage_in_bytes").write_text("104857600\n", encoding="ascii")
        (tmp_path / "memory.stat").write_text("cache 9\ninactive_file 1\ntotal_inactive_file 20971520\n",
                                              encoding="ascii")
    else:
        (tmp_path / "memory.current").write_text("104857600\n", encoding="ascii")
        (tmp_path / "memory.stat").write_text("anon 5\ninactive_file 20971520\n", encoding="ascii")
    assert runner.MemorySampler._read_usage(str(tmp_path)) == 80 * 1024 * 1024


def test_memory_peaks_per_container_and_together(tmp_path):
    sampler = runner.MemorySampler(["a", "b"])
    folders = {}
    for name in ("a", "b"):
        folders[name] = tmp_path / name
        folders[name].mkdir()
        (folders[name] / "memory.stat").write_text("inactive_file 0\n", encoding="ascii")
    sampler._paths.update({name: str(folder) for name, folder in folders.items()})  # as resolved from docker
    mib = 1024 * 1024
    for a, b in ((10, 50), (40, 5), (20, 20)):
        (folders["a"] / "memory.current").write_text(str(a * mib), encoding="ascii")
        (folders["b"] / "memory.current").write_text(str(b * mib), encoding="ascii")
        sampler.sample()
    found = sampler.report()
    assert found["peak_total_mib"] == 60.0 and found["peak_container"] == "b" and found["peak_container_mib"] == 50.0
    assert found["host_min_available_mib"] > 0  # this machine's /proc/meminfo
    assert found["peaks_mib"] == {"a": 40.0, "b": 50.0}
    sampler.reset()
    assert sampler.report()["containers"] == 0


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker client")
def test_missing_containers_are_named():
    inv = {"groups": {"all": ["gone", "local"]},
           "hostvars": {"gone": {"ansible_connection": "community.docker.docker",
                                 "ansible_host": "sg-bench-test-never-created"},
                        "local": {"ansible_connection": "local"}}}
    assert runner.missing_containers(inv) == {"gone": "sg-bench-test-never-created"}
