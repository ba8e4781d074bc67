"""release_switch: the whole switch on a real filesystem, a real reload command and a real /healthz.

Each test stages releases under tmp_path and runs a local HTTP server (127.0.0.1, ephemeral port)
that reads the `current` symlink on every request and answers for the release it points at, the
way the app does once Apache has reloaded: a good release answers 200 with its version, a bad one
503 with a reason. The reload command is a real script that records where `current` pointed when
it ran.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ansible.module_utils.release_switch import (
    SwitchError, describe, http_probe, read_current, resolve_command, switch, target_version,
    wait_healthy)

# Healthy answers end the wait at once; tests of an unhealthy release wait SHORT seconds for it.
FAST = {"health_timeout": 10.0, "health_interval": 0.05}
SHORT = 0.4


# --- fixtures: releases, a /healthz that follows `current`, a recording reload -----------------

def stage(root: Path, version: str, says: str | None = None) -> Path:
    release = root / "releases" / version
    (release / "public").mkdir(parents=True)
    (release / "release.json").write_text(json.dumps({"version": says or version}))
    return release


def healthy_body(version):
    return {"status": "ok", "release": version, "php": "7.4.33", "db": {"reachable": True},
            "schema": {"version": 2, "expected": 2, "current": True}}


class HealthServer:
    """/healthz for whatever release <root>/current points at.

    ``answers`` maps a version to ``(status, body)``; any other version is healthy.
    """

    def __init__(self, root: Path):
        self.root, self.answers, self.seen = root, {}, []
        self.link, self.not_found = "current", set()  # the symlink it serves; paths answering 404
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                try:
                    version = os.path.basename(os.readlink(server.root / server.link))
                except OSError:
                    version = None
                server.seen.append(version)
                status, body = server.answers.get(version, (200, healthy_body(version)))
                if self.path in server.not_found:
                    status, body = 404, b"not found"
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/healthz"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)

    def bad(self, version, reason="schema behind: version 1, expected 2"):
        self.answers[version] = (503, {"status": "fail", "reason": reason, "release": version,
                                       "schema": {"version": 1, "expected": 2, "current": False}})

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def reload_script(tmp_path: Path, root: Path, fail_on: str | None = None) -> tuple[list[str], Path]:
    """A reload command that logs where current pointed; exits 1 when it points at fail_on."""
    log, script = tmp_path / "reloads.log", tmp_path / "reload.sh"
    script.write_text("#!/bin/sh\n"
                      f'target=$(readlink "{root}/current")\n'
                      f'echo "$target" >> "{log}"\n'
                      + (f'[ "$target" = "releases/{fail_on}" ] && '
                         '{ echo "AH00526: Syntax error" >&2; exit 1; }\n' if fail_on else "")
                      + "exit 0\n")
    script.chmod(0o755)
    return [str(script)], log


def runner(argv):
    def run():
        proc = subprocess.run(argv, capture_output=True, text=True, check=False,
                              env={**os.environ, "LC_ALL": "C"})
        return proc.returncode, proc.stdout, proc.stderr
    return run


def reloads(log: Path):
    return log.read_text().split() if log.exists() else []


def link(root: Path):
    return os.readlink(root / "current")


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "app"
    root.mkdir()
    for version in ("1.0.0", "1.1.0"):
        stage(root, version)
    argv, log = reload_script(tmp_path, root)
    with HealthServer(root) as server:
        yield root, server, argv, log


def run(root, version, server, argv, **options):
    return switch(str(root), version, runner(argv), http_probe, reload_command=argv,
                  health_url=server.url, **{**FAST, **options})


def point(root: Path, version: str):
    os.symlink(f"releases/{version}", root / "current")


# --- switching --------------------------------------------------------------------------------

def test_first_switch_points_current_at_the_release_and_waits_for_it(site):
    root, server, argv, log = site
    result = run(root, "1.0.0", server, argv)
    assert link(root) == "releases/1.0.0"  # relative, as the role's ln -s made it
    assert reloads(log) == ["releases/1.0.0"]
    assert result["changed"] is True and result["switched"] is True
    assert result["previous"] is None and result["current"] == "1.0.0"
    assert result["health"] == healthy_body("1.0.0")
    assert result["restored"] is False
    assert isinstance(result["elapsed"], float) and 0 <= result["elapsed"] < 5
    assert not (root / "current.next").exists()


def test_switch_from_a_previous_release(site):
    root, server, argv, log = site
    point(root, "1.0.0")
    result = run(root, "1.1.0", server, argv)
    assert link(root) == "releases/1.1.0"
    assert (result["previous"], result["current"], result["changed"]) == ("1.0.0", "1.1.0", True)
    assert reloads(log) == ["releases/1.1.0"]


def test_already_current_does_not_switch_or_reload_but_checks_health(site):
    root, server, argv, log = site
    point(root, "1.1.0")
    before = os.lstat(root / "current").st_ino
    result = run(root, "1.1.0", server, argv)
    assert result["changed"] is False and result["switched"] is False
    assert (result["previous"], result["current"]) == ("1.1.0", "1.1.0")
    assert result["health"] == healthy_body("1.1.0")
    assert server.seen and reloads(log) == []
    assert os.lstat(root / "current").st_ino == before


def test_already_current_but_unhealthy_fails_without_touching_it(site):
    root, server, argv, log = site
    point(root, "1.1.0")
    server.bad("1.1.0", "database unreachable (error 2002)")
    with pytest.raises(SwitchError) as raised:
        run(root, "1.1.0", server, argv, health_timeout=SHORT)
    assert "release 1.1.0 is current but unhealthy" in str(raised.value)
    assert "HTTP 503, reason: database unreachable (error 2002)" in str(raised.value)
    assert raised.value.result["changed"] is False and raised.value.result["restored"] is False
    assert link(root) == "releases/1.1.0" and reloads(log) == []


def test_an_absolute_target_under_releases_counts_as_that_release(site):
    root, server, argv, log = site
    os.symlink(root / "releases" / "1.1.0", root / "current")
    result = run(root, "1.1.0", server, argv)
    assert result["changed"] is False and result["previous"] == "1.1.0"


def test_a_previous_target_outside_releases_is_restored_as_it_was(site, tmp_path):
    root, server, argv, log = site
    legacy = tmp_path / "legacy-app"
    legacy.mkdir()
    (legacy / "release.json").write_text(json.dumps({"version": "0.9.0"}))
    os.symlink(legacy, root / "current")
    server.bad("1.1.0")
    server.answers["legacy-app"] = (200, healthy_body("0.9.0"))
    with pytest.raises(SwitchError) as raised:
        run(root, "1.1.0", server, argv, health_timeout=SHORT)
    assert raised.value.result["previous"] == "0.9.0"
    assert str(raised.value).endswith("restored current to 0.9.0, which is healthy again")
    assert link(root) == str(legacy)


def test_a_target_outside_releases_is_switched_even_with_the_same_version(site, tmp_path):
    root, server, argv, log = site
    legacy = tmp_path / "legacy-app"
    legacy.mkdir()
    (legacy / "release.json").write_text(json.dumps({"version": "1.1.0"}))
    os.symlink(legacy, root / "current")
    result = run(root, "1.1.0", server, argv)
    assert result["switched"] is True and link(root) == "releases/1.1.0"


# --- an unhealthy release ---------------------------------------------------------------------

def test_bad_release_is_restored_and_the_failure_names_the_reason(site):
    root, server, argv, log = site
    point(root, "1.0.0")
    server.bad("1.1.0")
    with pytest.raises(SwitchError) as raised:
        run(root, "1.1.0", server, argv, health_timeout=SHORT)
    message, result = str(raised.value), raised.value.result
    assert link(root) == "releases/1.0.0"
    assert reloads(log) == ["releases/1.1.0", "releases/1.0.0"]  # reloaded onto each, in turn
    assert message == (f"{server.url}: release 1.1.0 reported itself unhealthy 5 times in a row "
                       "(last: HTTP 503, reason: schema behind: version 1, expected 2); restored "
                       "current to 1.0.0, which is healthy again")
    assert result["restored"] is True
    assert (result["previous"], result["current"]) == ("1.0.0", "1.0.0")
    assert result["health"]["status"] == "fail"
    assert result["restored_health"] == healthy_body("1.0.0")
    assert result["switched"] is True and result["changed"] is True
    assert "1.1.0" in server.seen and server.seen[-1] == "1.0.0"
    assert not (root / "current.next").exists()


def test_restore_reports_a_previous_release_that_is_unhealthy_too(site):
    root, server, argv, log = site
    point(root, "1.0.0")
    server.bad("1.1.0")
    server.bad("1.0.0", "database unreachable (error 2002)")
    with pytest.raises(SwitchError) as raised:
        run(root, "1.1.0", server, argv, health_timeout=SHORT)
    assert str(raised.value).endswith(
        "restored current to 1.0.0, but it is not healthy either "
        "(HTTP 503, reason: database unreachable (error 2002))")
    assert link(root) == "releases/1.0.0" and raised.value.result["restored"] is True


def test_keep_leaves_the_bad_release_in_place(site):
    root, server, argv, log = site
    point(root, "1.0.0")
    server.bad("1.1.0")
    with pytest.raises(SwitchError) as raised:
        run(root, "1.1.0", server, argv, on_failure="keep", health_timeout=SHORT)
    assert link(root) == "releases/1.1.0"
    assert reloads(log) == ["releases/1.1.0"]
    assert str(raised.value).endswith("current left at 1.1.0 (on_failure=keep)")
    result = raised.value.result
    assert result["restored"] is False and result["current"] == "1.1.0"
    assert result["previous"] == "1.0.0"


def test_first_release_unhealthy_has_nothing_to_restore(site):
    root, server, argv, log = site
    server.bad("1.0.0")
    with pytest.raises(SwitchError) as raised:
        run(root, "1.0.0", server, argv, health_timeout=SHORT)
    assert "nothing to restore (no release was current before)" in str(raised.value)
    assert link(root) == "releases/1.0.0" and raised.value.result["restored"] is False


def test_a_release_reporting_another_version_is_not_healthy(site):
    # e.g. a reload that did not happen: the old code still answers
    root, server, argv, log = site
    point(root, "1.0.0")
    server.answers["1.1.0"] = (200, healthy_body("1.0.0"))
    with pytest.raises(SwitchError) as raised:
        run(root, "1.1.0", server, argv, health_timeout=SHORT)
    assert "(last: HTTP 200, but it reports release '1.0.0')" in str(raised.value)
    assert link(root) == "releases/1.0.0"


def test_schema_not_current_is_not_healthy():
    answer = (200, {**healthy_body("1.1.0"), "schema": {"version": 1, "expected": 2, "current": False}}, None)
    assert describe(answer, "1.1.0") == ('HTTP 200, but schema is not current: '
                                         '{"version": 1, "expected": 2, "current": false}')


def test_a_non_json_answer_is_described(site):
    root, server, argv, log = site
    point(root, "1.0.0")
    server.answers["1.1.0"] = (500, b"<html>Internal Server Error</html>")
    with pytest.raises(SwitchError) as raised:
        run(root, "1.1.0", server, argv, health_timeout=SHORT)
    assert "(last: HTTP 500, body is not a JSON object)" in str(raised.value)
    assert raised.value.result["health"] is None


def closed_port_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/healthz"  # nothing listens there


def test_no_server_gives_the_connection_error(site):
    root, server, argv, log = site
    point(root, "1.0.0")
    url = closed_port_url()
    with pytest.raises(SwitchError) as raised:
        switch(str(root), "1.1.0", runner(argv), http_probe, reload_command=argv, health_url=url,
               health_timeout=SHORT, health_interval=0.05)
    assert str(raised.value) == (
        f"{url} did not report release 1.1.0 healthy within {SHORT:g}s (last: no answer: [Errno 111] "
        "Connection refused); restored current to 1.0.0, but it is not healthy either (no answer: "
        "[Errno 111] Connection refused)")
    assert link(root) == "releases/1.0.0"
    assert reloads(log) == ["releases/1.1.0", "releases/1.0.0"]


def test_a_failed_reload_restores_without_waiting(site, tmp_path):
    root, server, _, _ = site
    argv, log = reload_script(tmp_path, root, fail_on="1.1.0")
    point(root, "1.0.0")
    with pytest.raises(SwitchError) as raised:
        run(root, "1.1.0", server, argv, health_timeout=5)
    assert str(raised.value) == (f"reload {argv[0]} exited 1: AH00526: Syntax error; restored "
                                 "current to 1.0.0, which is healthy again")
    assert raised.value.result["elapsed"] < 4  # no wait for the release's health
    assert link(root) == "releases/1.0.0"
    assert reloads(log) == ["releases/1.1.0", "releases/1.0.0"]


# --- refusals: nothing changed ----------------------------------------------------------------

def assert_untouched(root, log, server, target="releases/1.0.0"):
    assert link(root) == target
    assert reloads(log) == [] and server.seen == []
    assert not os.path.lexists(root / "current.next")


def test_missing_release_is_refused(site):
    root, server, argv, log = site
    point(root, "1.0.0")
    with pytest.raises(SwitchError) as raised:
        run(root, "2.0.0", server, argv)
    assert str(raised.value) == (f"release 2.0.0 is not staged on this host: "
                                 f"{root}/releases/2.0.0/release.json is missing; nothing changed")
    assert_untouched(root, log, server)


def test_a_directory_without_release_json_is_refused(site):
    root, server, argv, log = site
    point(root, "1.0.0")
    (root / "releases" / "1.2.0").mkdir()
    with pytest.raises(SwitchError, match=r"release\.json is missing; nothing changed$"):
        run(root, "1.2.0", server, argv)
    assert_untouched(root, log, server)


def test_release_json_naming_another_version_is_refused(site):
    root, server, argv, log = site
    point(root, "1.0.0")
    stage(root, "1.2.0", says="1.1.9")
    with pytest.raises(SwitchError) as raised:
        run(root, "1.2.0", server, argv)
    assert str(raised.value) == (f"{root}/releases/1.2.0/release.json says version '1.1.9', not "
                                 "'1.2.0'; refusing to switch to it; nothing changed")
    assert_untouched(root, log, server)


def test_release_json_that_is_not_json_is_refused(site):
    root, server, argv, log = site
    point(root, "1.0.0")
    stage(root, "1.2.0")
    (root / "releases" / "1.2.0" / "release.json").write_text("{version: 1.2.0")
    with pytest.raises(SwitchError, match=r"release\.json is unreadable or not JSON"):
        run(root, "1.2.0", server, argv)
    assert_untouched(root, log, server)


@pytest.mark.parametrize("version", ["", "..", "../1.0.0", "1.0.0.partial"])
def test_a_version_that_is_not_a_release_name_is_refused(site, version):
    root, server, argv, log = site
    point(root, "1.0.0")
    with pytest.raises(SwitchError, match="is not a release directory name; nothing changed"):
        run(root, version, server, argv)
    assert_untouched(root, log, server)


def test_current_that_is_not_a_symlink_is_refused(site):
    root, server, argv, log = site
    (root / "current").mkdir()
    with pytest.raises(SwitchError, match=r"current exists but is not a symlink; refusing"):
        run(root, "1.0.0", server, argv)
    assert (root / "current").is_dir() and not (root / "current").is_symlink()
    assert reloads(log) == []


# --- check mode -------------------------------------------------------------------------------

def test_check_mode_reports_a_switch_and_touches_nothing(site):
    root, server, argv, log = site
    point(root, "1.0.0")
    result = run(root, "1.1.0", server, argv, check_mode=True)
    assert (result["changed"], result["switched"], result["previous"], result["current"]) == \
        (True, True, "1.0.0", "1.1.0")
    assert result["health"] is None and result["restored"] is False
    assert_untouched(root, log, server)


def test_check_mode_when_already_current(site):
    root, server, argv, log = site
    point(root, "1.0.0")
    result = run(root, "1.0.0", server, argv, check_mode=True)
    assert result["changed"] is False and result["switched"] is False
    assert_untouched(root, log, server)


def test_check_mode_reports_a_release_not_staged_yet(site):
    # in check mode the staging task before the switch did not run either: report, do not fail
    root, server, argv, log = site
    point(root, "1.0.0")
    result = run(root, "3.0.0", server, argv, check_mode=True)
    assert result["changed"] is True and result["switched"] is True
    assert result["msg"] == "release 3.0.0 is not staged yet; once staged, current would be switched to it"
    assert_untouched(root, log, server)


def test_check_mode_still_refuses_a_release_json_naming_another_version(site):
    root, server, argv, log = site
    point(root, "1.0.0")
    stage(root, "1.2.0", says="1.1.9")
    with pytest.raises(SwitchError, match="says version '1.1.9'"):
        run(root, "1.2.0", server, argv, check_mode=True)
    assert_untouched(root, log, server)


# --- atomicity --------------------------------------------------------------------------------

@pytest.mark.parametrize("stale", ["symlink", "dangling", "file"])
def test_a_stale_current_next_from_a_killed_run_is_replaced(site, stale):
    root, server, argv, log = site
    point(root, "1.0.0")
    nxt = root / "current.next"
    if stale == "symlink":
        os.symlink("releases/1.0.0", nxt)
    elif stale == "dangling":
        os.symlink("releases/0.0.1", nxt)
    else:
        nxt.write_text("")
    result = run(root, "1.1.0", server, argv)
    assert result["switched"] is True and link(root) == "releases/1.1.0"
    assert not os.path.lexists(nxt)


def test_the_symlink_is_renamed_over_never_removed(site):
    """A reader looking at `current` throughout many switches always finds it."""
    root, _, _, _ = site
    point(root, "1.0.0")
    from ansible.module_utils.release_switch import point_current
    stop, misses, reads = threading.Event(), [], [0]

    def reader():
        while not stop.is_set():
            try:
                target = os.readlink(root / "current")
                assert target in ("releases/1.0.0", "releases/1.1.0")
                reads[0] += 1
            except FileNotFoundError as exc:
                misses.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(2000):
            point_current(str(root), f"releases/1.{i % 2}.0")
    finally:
        stop.set()
        thread.join()
    assert misses == [] and reads[0] > 0
    assert not os.path.lexists(root / "current.next")


def test_the_replaced_link_is_a_new_inode_in_one_step(site):
    root, server, argv, log = site
    point(root, "1.0.0")
    before = os.lstat(root / "current").st_ino
    run(root, "1.1.0", server, argv)
    assert os.lstat(root / "current").st_ino != before
    assert sorted(p.name for p in root.iterdir()) == ["current", "releases"]


# --- helpers ----------------------------------------------------------------------------------

def test_target_version():
    assert target_version("/srv/app", "releases/1.2.0") == "1.2.0"
    assert target_version("/srv/app", "/srv/app/releases/1.2.0") == "1.2.0"
    assert target_version("/srv/app", "./releases/1.2.0/") == "1.2.0"
    assert target_version("/srv/app", "/opt/elsewhere") == "/opt/elsewhere"
    assert target_version("/srv/app", None) is None


def test_read_current_without_current(tmp_path):
    assert read_current(str(tmp_path)) is None


def test_wait_healthy_probes_at_least_once_and_stops_at_the_deadline():
    calls = []

    def probe(url, timeout):
        calls.append(timeout)
        return 503, json.dumps({"status": "fail", "reason": "x"}), None

    now = [0.0]
    healthy, answer = wait_healthy(probe, "u", "1", 1.0, 0.25, clock=lambda: now[0],
                                   sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert healthy is False and answer[0] == 503 and answer[1]["reason"] == "x"
    assert len(calls) == 5 and all(0.1 <= t <= 5 for t in calls)


def test_resolve_command(tmp_path):
    assert resolve_command(["true"], lambda name: f"/usr/bin/{name}") == ["/usr/bin/true"]
    assert resolve_command(["/bin/sh", "-c", "x"], lambda name: None) == ["/bin/sh", "-c", "x"]
    with pytest.raises(ValueError, match="reload command 'apache2ctl' not found on this host"):
        resolve_command(["apache2ctl", "graceful"], lambda name: None)
    with pytest.raises(ValueError, match="is empty"):
        resolve_command([], lambda name: None)
    with pytest.raises(ValueError, match="not found"):
        resolve_command([str(tmp_path / "nope")], lambda name: None)


def test_options_are_checked(site):
    root, server, argv, _ = site
    with pytest.raises(SwitchError, match="on_failure must be restore or keep"):
        run(root, "1.0.0", server, argv, on_failure="ignore")
    with pytest.raises(SwitchError, match="must be greater than 0"):
        run(root, "1.0.0", server, argv, health_timeout=0)


def test_a_release_reporting_itself_unhealthy_is_given_up_on_before_the_timeout(site):
    root, server, argv, log = site
    point(root, "1.0.0")
    server.bad("1.1.0")
    with pytest.raises(SwitchError) as raised:
        run(root, "1.1.0", server, argv, health_timeout=30)
    assert raised.value.result["elapsed"] < 10  # five verdicts, not thirty seconds
    assert "reported itself unhealthy 5 times in a row" in str(raised.value)
    assert link(root) == "releases/1.0.0"


def test_with_no_early_verdict_the_whole_timeout_is_waited(site):
    root, server, argv, log = site
    point(root, "1.0.0")
    server.bad("1.1.0")
    with pytest.raises(SwitchError) as raised:
        run(root, "1.1.0", server, argv, health_timeout=SHORT, health_failures=0)
    assert raised.value.result["elapsed"] >= SHORT
    assert f"did not report release 1.1.0 healthy within {SHORT:g}s" in str(raised.value)


@pytest.mark.parametrize(("answer", "verdict"), [
    ((503, {"status": "fail", "release": "1.1.0"}, None), True),   # names itself, unhealthy
    ((503, {"status": "fail", "reason": "broken"}, None), True),   # names no release: the new code
    ((500, None, None), True),                                     # a bare error page
    ((200, {"status": "ok", "release": "1.0.0"}, None), False),    # an old child finishing a request
    ((None, None, "[Errno 111] Connection refused"), False),       # Apache reloading
])
def test_which_answers_are_a_verdict_on_the_new_release(answer, verdict):
    from plugins.module_utils.release_switch import reports_itself_unhealthy
    assert reports_itself_unhealthy(answer, "1.1.0") is verdict


# --- another link (the candidate check's preview) and smoke URLs --------------------------------

def test_the_preview_link_switches_and_current_is_untouched(site):
    root, server, argv, log = site
    point(root, "1.0.0")
    os.symlink("releases/1.0.0", root / "preview")
    server.link = "preview"
    result = run(root, "1.1.0", server, argv, link="preview", on_failure="keep")
    assert result["switched"] and result["previous"] == "1.0.0"
    assert os.readlink(root / "preview") == "releases/1.1.0"
    assert link(root) == "releases/1.0.0"  # what is live stays live
    assert read_current(str(root), "preview") == "releases/1.1.0"
    assert not os.path.lexists(root / "preview.next")


@pytest.mark.parametrize("link", ["", "a/b", "..", "releases", "shared"])
def test_a_link_that_is_not_a_plain_name_is_refused(site, link):
    root, server, argv, _ = site
    with pytest.raises(SwitchError, match="link must be a plain name"):
        switch(str(root), "1.1.0", runner(argv), http_probe, reload_command=argv,
               health_url=server.url, link=link, **FAST)


def test_a_failing_smoke_url_fails_the_switch_and_restores(site):
    root, server, argv, log = site
    point(root, "1.0.0")
    server.not_found.add("/missing")
    with pytest.raises(SwitchError, match=r"smoke URL http://127.0.0.1:\d+/missing answered HTTP 404; "
                                          r"restored current to 1.0.0"):
        run(root, "1.1.0", server, argv, smoke_urls=["/healthz", "/missing"])
    assert link(root) == "releases/1.0.0"


def test_passing_smoke_urls(site):
    root, server, argv, log = site
    point(root, "1.0.0")
    result = run(root, "1.1.0", server, argv, smoke_urls=["/healthz", "/"])
    assert result["switched"] and link(root) == "releases/1.1.0"
