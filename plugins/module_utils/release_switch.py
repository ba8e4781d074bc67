"""Switch a web host's `current` symlink to a staged release, reload, and wait for /healthz.

The whole switch in one call (the release_switch module): check the staged release, point
`<root>/current` at `releases/<version>` with one rename(2) (a `current.next` symlink renamed onto
`current`: requests see the old or the new release, never neither), run the reload command, then
poll the health URL until the app reports this release healthy. When it does not within the
timeout, point `current` back at its previous target the same way, reload again and wait for the
previous release (on_failure=restore), or leave it (on_failure=keep); either way the call fails
with the reason.

Side effects go through two callables so the logic runs the same in the module and in tests:
``reload()`` returns ``(rc, stdout, stderr)`` and ``probe(url, timeout)`` returns
``(http_status or None, body text or None, connection error or None)``.

Each call that is not a check also leaves one JSON line in the host's deployment log
(``deployment_entry``, ``log_deployment``): when, which action, from and to which release, the
result, and who ran it.
"""
import datetime
import errno
import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

from ansible.module_utils.audit import append_line
from ansible.module_utils.file_paths import is_release_name

RELEASES = "releases"
CURRENT = "current"
NEXT = "current.next"
# One request never waits longer than this, so a hung server still leaves time to retry.
REQUEST_TIMEOUT = 5.0
# The deployment log: what a switch was done for, and who may be named in a line.
ACTIONS = ("deploy", "rollback", "automatic_rollback")
WHO_FIELDS = ("user", "controller", "ci_run_id", "commit", "change_ticket")
LOG_MODE = 0o640
LOG_DIRECTORY_MODE = 0o750
REASON_LIMIT = 1000


class SwitchError(Exception):
    """A refusal or failure; ``result`` holds the module's return values at that point."""

    def __init__(self, msg, **result):
        super().__init__(msg)
        self.result = result


def check_version_name(version):
    if not is_release_name(version):
        raise SwitchError(f"version {version!r} is not a release directory name; nothing changed")


class NotStaged(SwitchError):
    pass


def check_release(root, version):
    """Refuse unless releases/<version>/release.json exists and names this version."""
    check_version_name(version)
    path = os.path.join(root, RELEASES, version, "release.json")
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise NotStaged(f"release {version} is not staged on this host: {path} is missing; "
                        f"nothing changed") from None
    except (OSError, ValueError) as exc:
        raise SwitchError(f"{path} is unreadable or not JSON ({exc}); nothing changed") from None
    found = data.get("version") if isinstance(data, dict) else None
    if found != version:
        raise SwitchError(f"{path} says version {found!r}, not {version!r}; refusing to switch "
                          f"to it; nothing changed")


def read_current(root, name=CURRENT):
    """The raw target of <root>/<name> (`current`), or None when there is none."""
    link = os.path.join(root, name)
    try:
        return os.readlink(link)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            raise SwitchError(f"{link} exists but is not a symlink; refusing to replace it; "
                              f"nothing changed") from None
        raise SwitchError(f"cannot read {link}: {exc}; nothing changed") from None


def target_version(root, target):
    """releases/<v> (relative, or absolute under root) -> v; any other target as it is."""
    if target is None:
        return None
    full = os.path.normpath(os.path.join(root, target))
    if os.path.dirname(full) == os.path.normpath(os.path.join(root, RELEASES)):
        return os.path.basename(full)
    return target


def previous_version(root, target):
    """The release a `current` target holds: its directory name under releases/, else what its
    release.json says, else the target itself."""
    name = target_version(root, target)
    if target is None or name != target:
        return name
    try:
        with open(os.path.join(root, target, "release.json"), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return target
    found = data.get("version") if isinstance(data, dict) else None
    return found if isinstance(found, str) and found else target


def point_current(root, target, name=CURRENT):
    """Make <root>/<name> point at target in one rename; no `<name>.next` is left behind."""
    nxt, link = os.path.join(root, name + ".next"), os.path.join(root, name)
    try:
        os.unlink(nxt)  # a stale one, from a run killed between its two steps
    except FileNotFoundError:
        pass
    os.symlink(target, nxt)
    try:
        os.replace(nxt, link)
    except OSError:
        try:
            os.unlink(nxt)
        except OSError:
            pass
        raise


def http_probe(url, timeout):
    """GET url without any proxy: (status, body, None) or (None, None, error)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                   "Cache-Control": "no-cache"})
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read(65536).decode("utf-8", "replace"), None
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read(65536).decode("utf-8", "replace")
        except OSError:
            body = None
        finally:
            exc.close()
        return exc.code, body, None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return None, None, str(reason)


def parse_body(body):
    try:
        data = json.loads(body) if body else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def is_healthy(status, data, version):
    return (status == 200 and data is not None and data.get("status") == "ok"
            and data.get("release") == version
            and (data.get("schema") or {}).get("current") is True)


def describe(answer, version):
    """Why an answer (status, data, error) is not a healthy `version`, in one phrase."""
    status, data, error = answer
    if error is not None:
        return f"no answer: {error}"
    if data is None:
        return f"HTTP {status}, body is not a JSON object"
    if status != 200 or data.get("status") != "ok":
        return f"HTTP {status}, reason: {data.get('reason') or 'none given'}"
    if data.get("release") != version:
        return f"HTTP {status}, but it reports release {data.get('release')!r}"
    return f"HTTP {status}, but schema is not current: {json.dumps(data.get('schema'))}"


def reports_itself_unhealthy(answer, version):
    """An HTTP answer that is not healthy and does not come from another release: a verdict, not
    a hiccup. After the switch and the reload, an answer naming no release (a bare 500 or 503)
    comes from the new code; no answer at all (Apache reloading) or one naming the previous
    release (a child finishing its request) is a hiccup."""
    _, data, error = answer
    return error is None and (data is None or data.get("release") in (None, version))


def wait_healthy(probe, url, version, timeout, interval, clock=time.monotonic, sleep=time.sleep,
                 give_up_after=5):
    """Poll until `version` is healthy or timeout passes: (healthy, (status, data, error)).

    Probes at least once; no request outlives the deadline by more than a moment. Gives up early
    after `give_up_after` answers in a row in which the release reports itself unhealthy, so a
    failing release is rolled back in about a second rather than at the timeout.
    """
    deadline = clock() + timeout
    verdicts = 0
    while True:
        remaining = deadline - clock()
        status, body, error = probe(url, max(0.1, min(REQUEST_TIMEOUT, remaining)))
        answer = (status, parse_body(body), error)
        if is_healthy(status, answer[1], version):
            return True, answer
        verdicts = verdicts + 1 if reports_itself_unhealthy(answer, version) else 0
        if give_up_after and verdicts >= give_up_after:
            return False, answer
        remaining = deadline - clock()
        if remaining <= 0:
            return False, answer
        sleep(min(interval, remaining))


def smoke_failure(probe, health_url, paths):
    """The first smoke URL (a path on the health URL's server) not answering 200, as a reason."""
    parsed = urllib.parse.urlsplit(health_url)
    for path in paths:
        url = urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, path, "", ""))
        status, _, error = probe(url, REQUEST_TIMEOUT)
        if status != 200:
            return f"smoke URL {url} answered " + (f"HTTP {status}" if error is None else error)
    return None


def _reload_failure(reload_command, rc, out, err):
    detail = (err or out or "").strip().splitlines()
    return f"reload {' '.join(reload_command)} exited {rc}" + (f": {detail[-1]}" if detail else "")


def switch(root, version, reload, probe, reload_command=("apache2ctl", "-k", "graceful"),
           health_url="http://127.0.0.1/healthz", health_timeout=20.0, health_interval=0.2,
           on_failure="restore", check_mode=False, clock=time.monotonic, sleep=time.sleep,
           health_failures=5, balancer=None, link=CURRENT, smoke_urls=()):
    """Switch and verify; the module's result dict, or SwitchError carrying it.

    With a `balancer` (``drain()`` and ``ready()``, each returning once every load balancer has
    taken it in, or raising; see lb_agent.Agent), a host that changes release leaves the load
    balancer before `current` moves and comes back once it answers healthy again (with the new
    release, or the restored one). A host whose restored release is unhealthy too stays drained.
    """
    started = clock()
    root = os.path.abspath(root)
    if not link or "/" in link or link in (".", "..", RELEASES, "shared"):
        raise SwitchError(f"link must be a plain name beside releases/ (current, preview), not "
                          f"{link!r}; nothing changed")
    if on_failure not in ("restore", "keep"):
        raise SwitchError(f"on_failure must be restore or keep, not {on_failure!r}")
    if health_timeout <= 0 or health_interval <= 0:
        raise SwitchError("health_timeout and health_interval must be greater than 0")
    try:
        check_release(root, version)
        staged = True
    except NotStaged:
        if not check_mode:
            raise
        staged = False  # in check mode the staging step before this one did not run either
    previous_target = read_current(root, link)
    previous = previous_version(root, previous_target)
    wanted = f"{RELEASES}/{version}"
    already = target_version(root, previous_target) == version  # by path, not by release.json
    result = dict(changed=not already, previous=previous, current=version, switched=not already,
                  health=None, elapsed=0.0, restored=False)

    def finish(**extra):
        result.update(extra, elapsed=round(clock() - started, 3))
        return result

    if check_mode:
        if not staged:
            return finish(msg=f"release {version} is not staged yet; once staged, current would "
                              f"be switched to it")
        return finish()

    def fail(msg, **extra):
        return SwitchError(msg, **finish(**extra))

    reason = None
    if not already and balancer is not None:
        try:
            result["drained_by"] = balancer.drain()
        except Exception as exc:  # the balancer never saw the drain: put the word back, stop
            _ready_quietly(balancer)
            result.update(changed=False, switched=False, current=previous)
            raise fail(f"could not take the host out of the load balancer: {exc}; current is "
                       f"unchanged") from None
    if not already:
        try:
            point_current(root, wanted, link)
        except OSError as exc:
            _ready_quietly(balancer)
            result.update(changed=False, switched=False, current=previous)
            raise fail(f"cannot point {os.path.join(root, link)} at {wanted}: {exc}; "
                       f"current is unchanged") from None
        rc, out, err = reload()
        if rc != 0:
            reason = _reload_failure(reload_command, rc, out, err)
    if reason is None:
        healthy, answer = wait_healthy(probe, health_url, version, health_timeout,
                                       health_interval, clock, sleep, health_failures)
        result["health"] = answer[1]
        if healthy:
            reason = smoke_failure(probe, health_url, smoke_urls)
        if healthy and reason is None:
            if not already and balancer is not None:
                try:
                    balancer.ready()
                except Exception as exc:
                    raise fail(f"release {version} is live and healthy, but putting the host "
                               f"back in the load balancer failed: {exc}") from None
            return finish()
        if reason is not None:
            pass
        elif health_failures and reports_itself_unhealthy(answer, version):
            reason = f"{health_url}: release {version} reported itself unhealthy " \
                     f"{health_failures} times in a row (last: {describe(answer, version)})"
        else:
            reason = f"{health_url} did not report release {version} healthy within " \
                     f"{health_timeout:g}s (last: {describe(answer, version)})"

    if already:
        raise fail(f"release {version} is current but unhealthy: {reason}")
    if on_failure == "keep":
        raise fail(f"{reason}; current left at {version} (on_failure=keep)")
    if previous_target is None:
        raise fail(f"{reason}; nothing to restore (no release was current before), current left "
                   f"at {version}")

    try:
        point_current(root, previous_target, link)
    except OSError as exc:
        raise fail(f"{reason}; restoring current to {previous} failed too: {exc}") from None
    result.update(current=previous, restored=True)
    rc, out, err = reload()
    if rc != 0:
        raise fail(f"{reason}; restored current to {previous}, but "
                   f"{_reload_failure(reload_command, rc, out, err)}")
    healthy, answer = wait_healthy(probe, health_url, previous, health_timeout, health_interval,
                                   clock, sleep)
    result["restored_health"] = answer[1]
    if healthy:
        back = _ready_quietly(balancer)
        raise fail(f"{reason}; restored current to {previous}, which is healthy again"
                   + ("" if back is None else f"; {back}"))
    raise fail(f"{reason}; restored current to {previous}, but it is not healthy either "
               f"({describe(answer, previous)})")


def _ready_quietly(balancer):
    """Put the host back in the load balancer after a failure: None when done (or no balancer),
    else what went wrong, for the failure message."""
    if balancer is None:
        return None
    try:
        balancer.ready()
    except Exception as exc:
        return f"putting the host back in the load balancer failed too: {exc}"
    return None


def resolve_command(argv, get_bin_path):
    """argv with its program as an absolute path; ValueError when it cannot be found."""
    if not argv:
        raise ValueError("reload_command is empty")
    program = argv[0]
    if os.sep in program:
        path = program if os.access(program, os.X_OK) else None
    else:
        path = get_bin_path(program)
    if not path:
        raise ValueError(f"reload command {program!r} not found on this host")
    return [path] + list(argv[1:])


def outcome(result, error=None, version=None):
    """What a switch came to, in one word, from its result (and the SwitchError, when it failed):
    ``switched``, ``unchanged`` (already current, healthy), ``refused`` (nothing changed),
    ``restored`` (failed, and the previous release is back) or ``failed``."""
    if error is None:
        return "switched" if result.get("switched") else "unchanged"
    if result.get("restored"):
        return "restored"
    if result.get("switched"):
        return "failed"
    # not switched: refused (nothing changed), unless it was already current and is unhealthy
    return "failed" if version is not None and result.get("previous") == version else "refused"


def who_fields(who):
    """Only the known who fields, as strings or None: nothing else reaches the log."""
    who = who if isinstance(who, dict) else {}
    return {name: (None if who.get(name) in (None, "") else str(who[name])) for name in WHO_FIELDS}


def deployment_entry(action, version, result, error=None, who=None, host=None, now=None):
    """One deployment log record for a switch to ``version`` done for ``action``, from its result
    dict (the module's return values; SwitchError.result on failure) and the error, if any."""
    moment = datetime.datetime.fromtimestamp(time.time() if now is None else now, datetime.timezone.utc)
    reason = None if error is None else " ".join(str(error).split())[:REASON_LIMIT]
    return {
        "time": moment.replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "host": host if host is not None else socket.gethostname(),
        "action": action,
        "from": result.get("previous"),
        "to": version,
        "current": result.get("current"),
        "result": outcome(result, error, version),
        "reason": reason,
        "elapsed": result.get("elapsed"),
        "who": who_fields(who),
    }


def log_deployment(path, entry):
    """Append ``entry`` as one JSON line to ``path`` with one O_APPEND write (0640 when created;
    the directory 0750 when created), so the lines of concurrent runs never interleave."""
    line = json.dumps(entry, sort_keys=True, separators=(",", ":"), default=str) + "\n"
    append_line(path, line, mode=LOG_MODE, directory_mode=LOG_DIRECTORY_MODE)
