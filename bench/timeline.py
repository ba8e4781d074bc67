"""Phases of a playbook run per host, from the stackguard_timeline callback's JSON lines, as SVG.

Each line is one task on one host: {host, play, role, task, action, start, end, status}. PHASES maps
a line to a phase by the task's name, its action and its role (the first rule that matches wins;
no match is "other"), so the chart keeps working while roles are rewritten: a renamed task at
worst lands in "other", and a new rule here puts it back. The SVG is written by hand (no plotting
library): one lane per host, one bar per task coloured by phase, the switch of `current` as a tick.
"""
import json
import math
import re
from xml.sax.saxutils import escape, quoteattr

# (phase, task name, action, role): regular expressions (case-insensitive, searched), None for
# any. First match wins, so the specific rules come before the fallbacks by action and role.
PHASES = (
    ("preflight", None, None, r"^preflight$"),
    ("switch", None, None, r"^rolling_switch$"),
    ("stage", None, None, r"^app_site$"),
    ("rollback", r"switch back|roll(ed)? back every|mark the release bad|stop the rollout", None, None),
    ("candidate", r"preview|smoke|candidate", None, None),
    ("finish", r"mark the release good|keep the newest|prune|release the deploy lock|record the release",
     None, None),
    ("switch", r"drain|switch", None, None),
    ("checks", r"runtime|compat|expand-only|not applied yet|server's version|apache is installed"
     r"|choose and check|roll back to", None, None),
    ("stage", r"stag|lint|release directories|app configuration|shared|into place|interrupted"
     r"|apache site|serve the app|app's site|default site|came from|stop the deploy", None, None),
    ("artifact", r"artifact|checksum|sha256|release cache|controller-side|release metadata"
     r"|unpack the release on the controller", None, None),
    ("migrate", r"migrat|backup", None, None),
    ("lock", r"\block\b|identify this run", None, None),
    # By action, then by role, for tasks whose names say nothing of the above.
    ("switch", None, r"(^|\.)release_switch$", None),
    ("stage", None, r"(^|\.)release_stage$", None),
    ("artifact", None, r"(^|\.)release_artifact$", None),
    ("checks", None, r"(^|\.)(release_compat|rollback_plan|stack_facts)$", None),
    ("migrate", None, r"(^|\.)sql_migrations$", None),
    ("finish", None, r"(^|\.)release_state$", None),
    ("lock", None, r"(^|\.)deploy_lock$", None),
    ("lock", None, None, r"^deploy_lock$"),
)
OTHER = "other"
# Drawing order and colours (the legend follows the order of a deploy).
COLOURS = {
    "preflight": "#8da0cb", "lock": "#e78ac3", "artifact": "#a6d854", "checks": "#ffd92f",
    "stage": "#66c2a5", "migrate": "#e5c494", "candidate": "#fc8d62", "switch": "#1f78b4",
    "finish": "#b3b3b3", "rollback": "#e31a1c", OTHER: "#dddddd",
}
_COMPILED = tuple((phase, *(re.compile(p, re.IGNORECASE) if p else None for p in patterns))
                  for phase, *patterns in PHASES)


def phase_of(record):
    """The phase of one timeline line (a dict with task, action and role)."""
    fields = (record.get("task") or "", record.get("action") or "", record.get("role") or "")
    for phase, *patterns in _COMPILED:
        if all(pattern is None or pattern.search(value) for pattern, value in zip(patterns, fields)):
            return phase
    return OTHER


def load(path):
    """The finished task lines of a timeline file (lines without an end are left out)."""
    records = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not a JSON line ({error}); is it a stackguard_timeline "
                                 f"log?") from None
            if record.get("end") is not None and record.get("start") is not None:
                records.append(record)
    return records


def hosts_in_order(records, preferred=()):
    """The hosts of the records: those of `preferred` first, in its order, then by first start."""
    seen = {}
    for record in sorted(records, key=lambda r: r["start"]):
        seen.setdefault(record["host"], record["start"])
    ordered = [host for host in preferred if host in seen]
    return ordered + [host for host in seen if host not in ordered]


def _union(intervals):
    total, current_start, current_end = 0.0, None, None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_end is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None:
        total += current_end - current_start
    return total


def summary(records):
    """Per phase: wall seconds during which any host was in it (`span`), task count; per host: the
    seconds its tasks of each phase took; and the run's start and end."""
    if not records:
        return {"start": None, "end": None, "seconds": 0.0, "phases": {}, "hosts": {}}
    phases, hosts = {}, {}
    for record in records:
        phase = phase_of(record)
        entry = phases.setdefault(phase, {"intervals": [], "tasks": 0})
        entry["intervals"].append((record["start"], record["end"]))
        entry["tasks"] += 1
        per_host = hosts.setdefault(record["host"], {})
        per_host[phase] = per_host.get(phase, 0.0) + (record["end"] - record["start"])
    start = min(r["start"] for r in records)
    end = max(r["end"] for r in records)
    return {
        "start": start, "end": end, "seconds": end - start,
        "phases": {phase: {"span": round(_union(entry["intervals"]), 3), "tasks": entry["tasks"]}
                   for phase, entry in _ordered(phases)},
        "hosts": {host: {phase: round(seconds, 3) for phase, seconds in _ordered(per_host)}
                  for host, per_host in hosts.items()},
    }


def play_runs(records):
    """The plays of a run as they ran, in order: a serial play once per batch. Each is {run, play,
    start, end, seconds, hosts, rounds}; a round is one task on the hosts of that batch (the lines
    with the same `run` and `task_id`), the unit the linear strategy waits on. ValueError for
    lines without `run` or `task_id` (written before the callback had them)."""
    runs = {}
    for record in records:
        if record.get("run") is None or record.get("task_id") is None:
            raise ValueError(f"a timeline line without run and task_id ({record.get('task')!r} on "
                             f"{record.get('host')!r}): record the run again with this callback")
        entry = runs.setdefault(record["run"], {"run": record["run"], "play": record.get("play"),
                                                "start": record["start"], "end": record["end"],
                                                "hosts": set(), "tasks": set()})
        entry["start"] = min(entry["start"], record["start"])
        entry["end"] = max(entry["end"], record["end"])
        entry["hosts"].add(record["host"])
        entry["tasks"].add(record["task_id"])
    return [{"run": entry["run"], "play": entry["play"], "start": entry["start"], "end": entry["end"],
             "seconds": entry["end"] - entry["start"], "hosts": len(entry["hosts"]),
             "rounds": len(entry["tasks"])}
            for entry in sorted(runs.values(), key=lambda entry: entry["run"])]


def batch_split(records):
    """The run's plays in two: `once`, the plays that ran once (every host at the same time), and
    `per_batch`, the plays that ran once per serial batch (a play name seen in several runs).
    Each: {plays, rounds, seconds, intervals}; per_batch also `batches` (its most runs of one play)."""
    runs = play_runs(records)
    counts = {}
    for entry in runs:
        counts[entry["play"]] = counts.get(entry["play"], 0) + 1
    split = {kind: {"plays": 0, "rounds": 0, "seconds": 0.0, "intervals": []} for kind in ("once", "per_batch")}
    for entry in runs:
        part = split["per_batch" if counts[entry["play"]] > 1 else "once"]
        part["plays"] += 1
        part["rounds"] += entry["rounds"]
        part["seconds"] += entry["seconds"]
        part["intervals"].append((entry["start"], entry["end"]))
    split["per_batch"]["batches"] = max((n for n in counts.values() if n > 1), default=0)
    return split


def _ordered(mapping):
    order = list(COLOURS)
    return sorted(mapping.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))


def _tick_step(seconds, wanted=10):
    for step in (0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600):
        if seconds / step <= wanted:
            return step
    return math.ceil(seconds / wanted / 600) * 600


def render_svg(records, title, hosts=(), markers=(), width=960):
    """The SVG text: a lane per host, a bar per task (coloured by phase, its name as a tooltip),
    `markers` ({host, time, label}) as ticks, a time axis and a legend with each phase's span."""
    lane, gap, left, right, top = 20, 6, 110, 20, 46
    lanes = hosts_in_order(records, hosts)
    info = summary(records)
    start = info["start"] or 0.0
    seconds = max(info["seconds"], 0.001)
    plot = width - left - right

    def x(moment):
        return left + (moment - start) / seconds * plot

    axis_y = top + len(lanes) * (lane + gap) + 4
    legend_y = axis_y + 52
    legend_rows = math.ceil((len(info["phases"]) + (1 if markers else 0)) / 4) or 1
    height = legend_y + legend_rows * 20 + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
           f'<text x="{left}" y="20" font-size="14" font-weight="bold">{escape(title)}</text>',
           f'<text x="{left}" y="36" fill="#555555">{len(records)} task runs on {len(lanes)} hosts, '
           f'{seconds:.1f} s from the first task to the last</text>']
    step = _tick_step(seconds)
    tick = 0.0
    while tick <= seconds + 1e-9:
        tx = x(start + tick)
        out.append(f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" y2="{axis_y}" stroke="#eeeeee"/>')
        out.append(f'<text x="{tx:.1f}" y="{axis_y + 14}" text-anchor="middle" fill="#555555">'
                   f'{tick:g}</text>')
        tick += step
    out.append(f'<text x="{left + plot}" y="{axis_y + 28}" text-anchor="end" fill="#555555">'
               f'seconds since the first task</text>')
    for index, host in enumerate(lanes):
        y = top + index * (lane + gap)
        out.append(f'<text x="{left - 8}" y="{y + lane - 6}" text-anchor="end">{escape(host)}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{plot}" height="{lane}" fill="#f7f7f7"/>')
        for record in sorted((r for r in records if r["host"] == host), key=lambda r: r["start"]):
            phase = phase_of(record)
            bar_x, bar_w = x(record["start"]), max((record["end"] - record["start"]) / seconds * plot, 0.8)
            stroke = ' stroke="#b00000" stroke-width="1.5"' if record.get("status") in ("failed",
                                                                                      "unreachable") else ""
            opacity = ' fill-opacity="0.35"' if record.get("status") == "skipped" else ""
            tip = (f"{record.get('role') or '-'}: {record.get('task')} [{phase}, {record.get('status')}, "
                   f"{record['end'] - record['start']:.2f} s]")
            out.append(f'<rect x="{bar_x:.2f}" y="{y + 2}" width="{bar_w:.2f}" height="{lane - 4}" '
                       f'fill="{COLOURS.get(phase, COLOURS[OTHER])}"{opacity}{stroke}>'
                       f'<title>{escape(tip)}</title></rect>')
        for marker in markers:
            if marker.get("host") != host or not start <= marker["time"] <= start + seconds:
                continue
            mx = x(marker["time"])
            out.append(f'<line x1="{mx:.2f}" y1="{y - 2}" x2="{mx:.2f}" y2="{y + lane + 2}" stroke="#000000" '
                       f'stroke-width="2"><title>{escape(marker.get("label", ""))}</title></line>')
    for index, (phase, entry) in enumerate(info["phases"].items()):
        lx = left + (index % 4) * (plot / 4)
        ly = legend_y + (index // 4) * 20
        out.append(f'<rect x="{lx:.1f}" y="{ly - 10}" width="12" height="12" fill={quoteattr(COLOURS[phase])}/>')
        out.append(f'<text x="{lx + 17:.1f}" y="{ly}">{escape(phase)}: {entry["span"]:.1f} s, '
                   f'{entry["tasks"]} task runs</text>')
    if markers:
        index = len(info["phases"])
        lx, ly = left + (index % 4) * (plot / 4), legend_y + (index // 4) * 20
        out.append(f'<line x1="{lx + 6:.1f}" y1="{ly - 12}" x2="{lx + 6:.1f}" y2="{ly + 2}" stroke="#000000" '
                   f'stroke-width="2"/>')
        out.append(f'<text x="{lx + 17:.1f}" y="{ly}">the host\'s current switched</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
