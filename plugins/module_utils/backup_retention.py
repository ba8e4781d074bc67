"""Which base backups, archived binlogs and chain-break markers to keep: pure, data-driven.

Policy ``{daily: 7, weekly: 4, monthly: 12, keep_within_hours: 24}`` (grandfather-father-son, periods in UTC):

- each rule keeps the newest good base backup of each of its N most recent periods (day, ISO
  week, calendar month) that have one; a backup kept by several rules is kept once;
- the newest good base backup is always kept, whatever the policy (even all zeros);
- every good base backup younger than ``keep_within_hours`` is kept too, so the safety backup an
  in-place restore takes, or a pre-deploy backup, is not deleted by the next backup that day;
- a base backup that is not good (no whole manifest, or its dump missing or short) is deleted
  once it is older than ``incomplete_grace_hours`` (an upload may still be arriving), never before;
- archived binlogs are kept back to the oldest kept base backup: a binlog whose last event is
  older than that backup's consistent point can never be replayed onto a kept backup, every
  other one is kept; with no good base backup at all, nothing is deleted;
- chain-break markers older than the oldest kept base backup are deleted likewise.

``select`` returns ids and keys only; backup_store deletes the files.
"""
import datetime

from ansible.module_utils.backup_catalog import CatalogError, BASE_ID, base_order, parse_stamp

RULES = ("daily", "weekly", "monthly")
DEFAULT_POLICY = {"daily": 7, "weekly": 4, "monthly": 12, "keep_within_hours": 24, "incomplete_grace_hours": 24}


def check_policy(policy):
    """The policy with defaults filled in; CatalogError naming a bad field."""
    out = dict(DEFAULT_POLICY)
    for field, value in (policy or {}).items():
        if field not in DEFAULT_POLICY:
            raise CatalogError(f"retention field '{field}' is unknown (known: {', '.join(DEFAULT_POLICY)})")
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise CatalogError(f"retention field '{field}' must be a whole number >= 0 (got {value!r})")
        out[field] = value
    return out


def period(rule, epoch):
    moment = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
    if rule == "daily":
        return moment.strftime("%Y-%m-%d")
    if rule == "weekly":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    if rule == "monthly":
        return moment.strftime("%Y-%m")
    raise CatalogError(f"unknown retention rule {rule!r}")


def _base_age_epoch(base_id):
    match = BASE_ID.match(str(base_id))
    return parse_stamp(match.group("stamp")) if match else None


def select(catalog, policy, now):
    """{keep, delete, reasons, keep_binlogs, delete_binlogs, keep_markers, delete_markers}.

    `catalog` is backup_catalog.normalize's answer; `now` is epoch seconds.
    """
    policy = check_policy(policy)
    good = sorted(catalog.get("bases") or [], key=base_order, reverse=True)
    reasons = {}
    for rule in RULES:
        seen = []
        for base in good:
            key = period(rule, base["consistent_at"])
            if key in seen:
                continue
            if len(seen) >= policy[rule]:
                break
            seen.append(key)
            reasons.setdefault(base["id"], []).append(f"{rule} {key}")
    within = policy["keep_within_hours"] * 3600
    for base in good:
        if now - base["consistent_at"] < within:
            reasons.setdefault(base["id"], []).append(f"within {policy['keep_within_hours']} h")
    if good:
        reasons.setdefault(good[0]["id"], []).insert(0, "newest good backup")
    keep = [b["id"] for b in good if b["id"] in reasons]
    delete = [b["id"] for b in good if b["id"] not in reasons]

    grace = policy["incomplete_grace_hours"] * 3600
    for base in catalog.get("bad_bases") or []:
        started = _base_age_epoch(base["id"])
        if started is not None and now - started > grace:
            delete.append(base["id"])
        else:
            keep.append(base["id"])
            reasons[base["id"]] = ["incomplete, within the grace period"]

    binlogs = catalog.get("binlogs") or []
    markers = catalog.get("markers") or []
    kept_good = [b for b in good if b["id"] in reasons]
    if kept_good:
        floor = min(b["consistent_at"] for b in kept_good)
        keep_binlogs = [b["key"] for b in binlogs if b["last_event_at"] >= floor]
        delete_binlogs = [b["key"] for b in binlogs if b["last_event_at"] < floor]
        keep_markers = [m["id"] for m in markers if m["at"] >= floor]
        delete_markers = [m["id"] for m in markers if m["at"] < floor]
    else:
        keep_binlogs, delete_binlogs = [b["key"] for b in binlogs], []
        keep_markers, delete_markers = [m["id"] for m in markers], []
    return {"keep": sorted(keep), "delete": sorted(delete), "reasons": reasons,
            "keep_binlogs": keep_binlogs, "delete_binlogs": delete_binlogs,
            "keep_markers": keep_markers, "delete_markers": delete_markers}
