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
