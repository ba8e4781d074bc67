"""Webhook notifications: build a payload from an event, send it, and never leak a secret.

An event is a plain dict::

    {"kind": "deploy" | "rollback" | "drift" | "backup_failed" | ...,
     "environment": "production", "summary": "one line", "details": {...},
     "status": "ok" | "failed" | "warning", "at": "2024-01-01T00:00:00Z"}

Two payload styles:

- ``slack``: ``{"text": ..., "attachments": [...]}``, the body Slack- and Mattermost-style incoming
  webhooks accept (``text`` alone is enough for both; the attachment adds a colour and the details).
- ``generic``: the event itself as JSON, plus ``"source": "stackguard"``.

``redact`` (also used by the audit log) drops every key that looks like it holds a secret, at any
depth; ``payload`` applies it to the details, so nothing else has to remember to.

Sending never raises: a webhook that is down, slow or answering an error is reported in the result
(``{url, ok, status, error}``) and the caller decides what to do with it. Reported URLs are masked
(``display_url``) because an incoming-webhook URL is itself a credential.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import urllib.error
import urllib.parse
import urllib.request

STYLES = ("slack", "generic")
SECRET_KEY = re.compile(r"password|secret|token|key|vault", re.IGNORECASE)
USER_AGENT = "stackguard-notify/1"
SOURCE = "stackguard"

_STATUS_COLOR = {"ok": "#2eb886", "warning": "#daa038", "failed": "#a30200"}
_STATUS_MARK = {"ok": "OK", "warning": "WARNING", "failed": "FAILED"}


def redact(value):
    """A copy of ``value`` without any dict key matching password|secret|token|key|vault.

    Recurses into dicts, lists and tuples (tuples come back as lists, as JSON would have them).
    """
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items() if not SECRET_KEY.search(str(k))}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def utc_now():
    """The current time as ISO 8601 UTC with a Z, to the second."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def normalize(event):
    """The event with defaults filled in and its details redacted; ValueError without kind/summary."""
    if not isinstance(event, dict):
        raise ValueError("event must be a dict")
    for field in ("kind", "summary"):
        if not event.get(field):
            raise ValueError(f"event.{field} is required")
    details = event.get("details") or {}
    if not isinstance(details, dict):
        details = {"value": details}
    out = dict(event)
    out.update(
        kind=str(event["kind"]),
        summary=" ".join(str(event["summary"]).split()),  # one line, whatever was passed
        environment=event.get("environment"),
        status=event.get("status") or "ok",
        at=event.get("at") or utc_now(),
        details=redact(details),
    )
    return redact(out) | {"details": out["details"]}


def _scalar(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def payload(event, style="generic"):
    """The JSON-serialisable body for one webhook of ``style``."""
    if style not in STYLES:
        raise ValueError(f"unknown webhook style {style!r} (one of {', '.join(STYLES)})")
    event = normalize(event)
    if style == "generic":
        return dict(event, source=SOURCE)
    status = event["status"]
    where = f" {event['environment']}" if event.get("environment") else ""
    text = f"[{SOURCE}{where}] {event['kind']} {_STATUS_MARK.get(status, status.upper())}: {event['summary']}"
    fields = [{"title": str(k), "value": _scalar(v), "short": len(_scalar(v)) < 40}
              for k, v in sorted(event["details"].items(), key=lambda kv: str(kv[0]))]
    body = {"text": text}
    attachment = {"fallback": text, "color": _STATUS_COLOR.get(status, "#808080"),
                  "footer": f"{SOURCE} {event['at']}"}
    if fields:
        attachment["fields"] = fields
    body["attachments"] = [attachment]
    return body


def display_url(url):
    """``url`` safe to print: no credentials, query or path beyond the first segment."""
    try:
        parts = urllib.parse.urlsplit(str(url))
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{host}:{parts.port}" if parts.port else host
        segments = [s for s in parts.path.split("/") if s]
    except ValueError:
        return "***"
    path = ""
    if segments:
        path = "/" + segments[0] + ("/***" if len(segments) > 1 else "")
    query = "?***" if parts.query else ""
    return f"{parts.scheme}://{netloc}{path}{query}"


def _is_loopback(host):
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def send(url, body, timeout=5):
    """POST ``body`` as JSON to ``url``; returns ``{url, ok, status, error}`` and never raises.

    ``ok`` is true for a 2xx answer. ``status`` is the HTTP status, or None when none came back.
    Proxies from the environment are used, except for loopback addresses.
    """
    result = {"url": display_url(url), "ok": False, "status": None, "error": None}
    try:
        parts = urllib.parse.urlsplit(str(url))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            result["error"] = "not an http(s) URL"
            return result
        data = json.dumps(body, sort_keys=True, default=str).encode("utf-8")
        request = urllib.request.Request(str(url), data=data, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": USER_AGENT})
        handlers = [urllib.request.ProxyHandler({})] if _is_loopback(parts.hostname) else []
        opener = urllib.request.build_opener(*handlers)
        with opener.open(request, timeout=timeout) as response:
            result["status"] = response.status
            response.read(65536)
        result["ok"] = 200 <= result["status"] < 300
        if not result["ok"]:
            result["error"] = f"HTTP {result['status']}"
    except urllib.error.HTTPError as error:
        result["status"] = error.code
        result["error"] = f"HTTP {error.code} {error.reason}".strip()
    except urllib.error.URLError as error:
        result["error"] = f"unreachable: {error.reason}"
    except Exception as error:  # a notification must never break the run
        result["error"] = f"{type(error).__name__}: {error}"
    return result


def send_all(webhooks, event, timeout=5):
    """Send ``event`` to each ``{url, style}`` of ``webhooks``; one result per webhook, in order.

    A bad style or event is reported in that webhook's result like a failed delivery.
    """
    results = []
    for hook in webhooks or []:
        hook = hook if isinstance(hook, dict) else {"url": hook}
        url = hook.get("url")
        try:
            body = payload(event, hook.get("style") or "generic")
        except ValueError as error:
            results.append({"url": display_url(url), "ok": False, "status": None, "error": str(error)})
            continue
        results.append(send(url, body, timeout=timeout))
    return results


# Deploy and rollback runs (the stackguard_notify callback gathers the facts, this builds the event)

RUN_KINDS = ("deploy", "rollback")
REASON_LIMIT = 500


def _hosts_text(hosts):
    hosts = list(hosts)
    return ", ".join(hosts[:8]) + (f" and {len(hosts) - 8} more" if len(hosts) > 8 else "")


def run_event(kind, *, environment=None, release=None, switches=(), failures=(), who=None,
              playbook=None, at=None):
    """The event a deploy or rollback run sends when it ends, from plain data.

    ``switches``: each release_switch call, in order, ``{host, version, previous, current,
    switched, restored, failed, msg}`` (a delegated call under the host it switched).
    ``failures``: each task that failed the run, in order, ``{host, task, msg}`` (unreachable
    hosts too). ``who``: ``{user, controller_host, ci_run_id, commit, change_ticket}``.

    The outcome: ``deployed``/``rolled_back`` (no failure), ``refused`` (a failure before any
    host's ``current`` moved), ``failed_rolled_back`` (a deploy that failed after a switch and
    whose hosts all serve their previous release again) or ``failed`` (some host was left on the
    release, or a rollback failed after a switch).
    """
    if kind not in RUN_KINDS:
        raise ValueError(f"kind must be one of {', '.join(RUN_KINDS)}, not {kind!r}")
    final = {}
    for call in switches:  # the first call on a host says where it came from, the last where it is
        entry = final.setdefault(call["host"], {"from": call.get("previous"), "to": None, "result": None})
        entry["to"] = call.get("current")
        entry["result"] = ("restored" if call.get("restored") else "failed" if call.get("failed")
                           else "switched" if call.get("switched") else "unchanged")
    for entry in final.values():
        if entry["result"] == "switched" and entry["to"] == entry["from"]:
            entry["result"] = "rolled_back"  # switched, then switched back by a later call
    switched = any(call.get("switched") for call in switches)
    if kind == "deploy":
        target = release
    else:  # a rollback's target is what its switches asked for
        targets = [call.get("version") for call in switches if call.get("version")]
        target = targets[0] if targets else release
    first = failures[0] if failures else None
    reason = None
    if first:
        reason = " ".join(f"{first.get('host')}: {first.get('msg') or 'failed'}".split())
        if len(reason) > REASON_LIMIT:
            reason = reason[:REASON_LIMIT - 3] + "..."
    hosts = sorted(final)
    failed_hosts = sorted({f.get("host") for f in failures if f.get("host")})
    previous = sorted({str(e["from"]) for e in final.values() if e["from"] is not None and e["from"] != target})
    from_text = f" (from {', '.join(previous)})" if previous else ""
    name = f"release {target}" if target else "the release"

    if not failures:
        outcome, status = ("deployed" if kind == "deploy" else "rolled_back"), "ok"
        if kind == "deploy":
            summary = f"Release {target} deployed on {_hosts_text(hosts) or 'no host'}{from_text}"
        else:
            summary = f"Rolled back {_hosts_text(hosts) or 'no host'} to {target}{from_text}"
    elif not switched:
        outcome, status = "refused", "failed"
        verb = "Deploy of" if kind == "deploy" else "Rollback to"
        summary = f"{verb} {name} refused before any host changed: {reason}"
    elif kind == "deploy" and all(e["to"] != target for e in final.values()):
        outcome, status = "failed_rolled_back", "failed"
        summary = (f"Release {target} failed on {_hosts_text(failed_hosts)} and was rolled back on "
                   f"{_hosts_text(hosts)}: {reason}")
    else:
        outcome, status = "failed", "failed"
        left = sorted(h for h, e in final.items() if e["to"] == target)
        verb = "Release" if kind == "deploy" else "Rollback to"
        summary = (f"{verb} {target} failed on {_hosts_text(failed_hosts)}"
                   + (f"; {_hosts_text(left)} serve(s) {target}" if left else "") + f": {reason}")
    details = {"outcome": outcome, "release": target, "hosts": final, "failed_hosts": failed_hosts,
               "reason": reason, "playbook": playbook}
    details.update({k: v for k, v in (who or {}).items() if v not in (None, "")})
    event = {"kind": kind, "environment": environment, "status": status, "summary": summary,
             "details": {k: v for k, v in details.items() if v not in (None, [], {})} | {"outcome": outcome}}
    if at:
        event["at"] = at
    return normalize(event)
