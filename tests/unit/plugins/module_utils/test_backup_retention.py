"""backup_retention: which base backups, binlogs and markers are kept, from generated sets with
known dates. The expected sets are written out by hand from the calendar, not computed."""
import datetime

import pytest

from ansible.module_utils.backup_catalog import CatalogError, parse_time
from ansible.module_utils.backup_retention import check_policy, period, select

POLICY = {"daily": 7, "weekly": 4, "monthly": 12, "keep_within_hours": 0}


def at(text):
    return parse_time(text)


def base(day, time="23:59:00", kind="daily"):
    moment = at(f"{day} {time}")
    stamp = datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return {"id": f"{stamp}-{kind}", "consistent_at": moment + 1, "good": True, "file": "mariadb-bin.000001",
            "position": 389}


def days(first, last):
    start = datetime.date.fromisoformat(first)
    for n in range((datetime.date.fromisoformat(last) - start).days + 1):
        yield (start + datetime.timedelta(days=n)).isoformat()


def daily_set(first="2025-11-01", last="2026-12-30"):
    return [base(day) for day in days(first, last)]


def ids(*day_list, kind="daily", time="235900"):
    return sorted(f"{d.replace('-', '')}T{time}Z-{kind}" for d in day_list)


# Newest first, the last 7 days, the newest of the last 4 ISO weeks (2026-W53 starts Monday
# 2026-12-28) and of the last 12 months.
DAILY = ["2026-12-24", "2026-12-25", "2026-12-26", "2026-12-27", "2026-12-28", "2026-12-29", "2026-12-30"]
WEEKLY = ["2026-12-30", "2026-12-27", "2026-12-20", "2026-12-13"]
MONTHLY = ["2026-12-30", "2026-11-30", "2026-10-31", "2026-09-30", "2026-08-31", "2026-07-31", "2026-06-30",
           "2026-05-31", "2026-04-30", "2026-03-31", "2026-02-28", "2026-01-31"]
NOW = at("2026-12-31 12:00:00")


def test_a_year_of_daily_backups_keeps_exactly_seven_days_four_weeks_twelve_months():
    chosen = select({"bases": daily_set()}, POLICY, NOW)
    assert chosen["keep"] == ids(*set(DAILY + WEEKLY + MONTHLY))
    assert len(chosen["keep"]) == 20
    assert len(chosen["delete"]) == len(list(days("2025-11-01", "2026-12-30"))) - 20
    assert chosen["reasons"]["20261230T235900Z-daily"] == [
        "newest good backup", "daily 2026-12-30", "weekly 2026-W53", "monthly 2026-12"]
    assert chosen["reasons"]["20261213T235900Z-daily"] == ["weekly 2026-W50"]
    assert chosen["reasons"]["20260131T235900Z-daily"] == ["monthly 2026-01"]


def test_the_newest_of_a_day_counts_and_the_others_of_that_day_go():
    bases = daily_set("2026-12-20", "2026-12-30") + [base("2026-12-30", "10:00:00", "pre_deploy"),
                                                     base("2026-12-29", "23:59:30", "manual")]
    chosen = select({"bases": bases}, {"daily": 2, "weekly": 0, "monthly": 0, "keep_within_hours": 0}, NOW)
    assert chosen["keep"] == sorted(ids("2026-12-30") + ["20261229T235930Z-manual"])
    assert "20261230T100000Z-pre_deploy" in chosen["delete"]
    assert "20261229T235900Z-daily" in chosen["delete"]


def test_days_without_a_backup_do_not_count():
    bases = [base(d) for d in ["2026-12-01", "2026-12-10", "2026-12-20", "2026-12-30"]]
    chosen = select({"bases": bases}, {"daily": 3, "weekly": 0, "monthly": 0, "keep_within_hours": 0}, NOW)
    assert chosen["keep"] == ids("2026-12-10", "2026-12-20", "2026-12-30")
    assert chosen["delete"] == ids("2026-12-01")


@pytest.mark.parametrize("policy", [{"daily": 0, "weekly": 0, "monthly": 0}, {"daily": 0}])
def test_the_newest_good_backup_is_never_deleted(policy):
    policy = {"daily": 0, "weekly": 0, "monthly": 0, "keep_within_hours": 0, **policy}
    chosen = select({"bases": daily_set("2026-12-01", "2026-12-30")}, policy, NOW)
    assert chosen["keep"] == ids("2026-12-30")
    assert chosen["reasons"]["20261230T235900Z-daily"] == ["newest good backup"]


def test_the_newest_good_backup_is_kept_even_when_a_newer_one_is_broken():
    bad = {"id": "20261231T020000Z-manual", "good": False, "problems": ["no manifest.json"]}
    older_bad = {"id": "20261229T020000Z-manual", "good": False, "problems": ["no manifest.json"]}
    chosen = select({"bases": [base("2026-12-20")], "bad_bases": [bad, older_bad]},
                    {"daily": 0, "weekly": 0, "monthly": 0, "keep_within_hours": 0}, NOW)
    assert chosen["keep"] == sorted(["20261220T235900Z-daily", "20261231T020000Z-manual"])
    assert chosen["reasons"]["20261231T020000Z-manual"] == ["incomplete, within the grace period"]
    assert chosen["delete"] == ["20261229T020000Z-manual"]


@pytest.mark.parametrize("age_hours, grace, deleted", [(23, 24, False), (25, 24, True), (1, 0, True), (0, 0, False)])
def test_incomplete_backups_wait_out_their_grace_period(age_hours, grace, deleted):
    moment = NOW - age_hours * 3600
    stamp = datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    bad = {"id": f"{stamp}-daily", "good": False, "problems": []}
    chosen = select({"bases": [], "bad_bases": [bad]}, {"incomplete_grace_hours": grace}, NOW)
    assert (bad["id"] in chosen["delete"]) is deleted


def binlog(started, last):
    return {"key": f"k-{started}", "started_at": at(started), "last_event_at": at(last)}


def test_binlogs_are_kept_back_to_the_oldest_kept_base_backup():
    bases = daily_set("2026-12-01", "2026-12-30")  # keeps 2026-12-24..30 with daily 7 only
    binlogs = [binlog(f"{d} 00:00:00", f"{d} 23:59:30") for d in days("2026-11-28", "2026-12-30")]
    chosen = select({"bases": bases, "binlogs": binlogs}, {"daily": 7, "weekly": 0, "monthly": 0, "keep_within_hours": 0}, NOW)
    assert chosen["keep"][0] == "20261224T235900Z-daily"
    # The oldest kept backup is consistent at 2026-12-24 23:59:01: the binlog of the 24th ends
    # after it (23:59:30) and holds what follows the backup; every earlier one ends before.
    assert chosen["keep_binlogs"] == [f"k-{d} 00:00:00" for d in days("2026-12-24", "2026-12-30")]
    assert chosen["delete_binlogs"] == [f"k-{d} 00:00:00" for d in days("2026-11-28", "2026-12-23")]


def test_a_binlog_ending_exactly_at_the_oldest_base_is_kept():
    bases = [base("2026-12-30")]  # consistent at 23:59:01
    binlogs = [binlog("2026-12-30 00:00:00", "2026-12-30 23:59:01"), binlog("2026-12-29 00:00:00", "2026-12-30 23:59:00")]
    chosen = select({"bases": bases, "binlogs": binlogs}, POLICY, NOW)
    assert chosen["keep_binlogs"] == ["k-2026-12-30 00:00:00"]
    assert chosen["delete_binlogs"] == ["k-2026-12-29 00:00:00"]


def test_without_any_good_base_backup_no_binlog_or_marker_is_deleted():
    binlogs = [binlog("2020-01-01 00:00:00", "2020-01-01 00:10:00")]
    markers = [{"id": "m", "at": at("2020-01-01 00:05:00")}]
    chosen = select({"bases": [], "binlogs": binlogs, "markers": markers}, POLICY, NOW)
    assert (chosen["delete_binlogs"], chosen["delete_markers"]) == ([], [])
    assert (chosen["keep_binlogs"], chosen["keep_markers"]) == (["k-2020-01-01 00:00:00"], ["m"])


def test_markers_older_than_the_oldest_kept_base_are_deleted():
    markers = [{"id": "old", "at": at("2026-12-01 10:00:00")}, {"id": "new", "at": at("2026-12-29 10:00:00")}]
    chosen = select({"bases": daily_set("2026-12-01", "2026-12-30"), "markers": markers},
                    {"daily": 7, "weekly": 0, "monthly": 0, "keep_within_hours": 0}, NOW)
    assert (chosen["keep_markers"], chosen["delete_markers"]) == (["new"], ["old"])


@pytest.mark.parametrize("rule, when, expected", [
    ("daily", "2026-12-31 23:59:59", "2026-12-31"),
    ("weekly", "2026-12-31 12:00:00", "2026-W53"),
    ("weekly", "2027-01-03 12:00:00", "2026-W53"),
    ("weekly", "2027-01-04 00:00:00", "2027-W01"),
    ("monthly", "2026-02-28 23:59:00", "2026-02"),
])
def test_periods_are_utc_days_iso_weeks_and_months(rule, when, expected):
    assert period(rule, at(when)) == expected


@pytest.mark.parametrize("policy, message", [
    ({"daily": -1}, "retention field 'daily' must be a whole number >= 0"),
    ({"weekly": "4"}, "retention field 'weekly' must be a whole number >= 0"),
    ({"monthly": True}, "retention field 'monthly' must be a whole number >= 0"),
    ({"yearly": 1}, "retention field 'yearly' is unknown"),
])
def test_check_policy_refuses_bad_fields(policy, message):
    with pytest.raises(CatalogError, match=message):
        check_policy(policy)


def test_check_policy_fills_in_defaults():
    assert check_policy({"daily": 3}) == {"daily": 3, "weekly": 4, "monthly": 12, "keep_within_hours": 24,
                                          "incomplete_grace_hours": 24}


def test_every_backup_of_the_last_hours_is_kept_whatever_its_day():
    bases = [base("2026-12-31", t, k) for t, k in (("01:00:00", "pre_deploy"), ("09:00:00", "safety"),
                                                  ("09:00:30", "after_restore"))] + [base("2026-12-30", "10:00:00",
                                                                                          "manual")]
    chosen = select({"bases": bases}, {"daily": 1, "weekly": 0, "monthly": 0, "keep_within_hours": 12}, NOW)
    assert chosen["keep"] == ["20261231T010000Z-pre_deploy", "20261231T090000Z-safety",
                              "20261231T090030Z-after_restore"]
    assert chosen["reasons"]["20261231T090000Z-safety"] == ["within 12 h"]
    assert chosen["delete"] == ["20261230T100000Z-manual"]


def test_of_two_backups_in_one_second_the_later_binlog_position_is_the_newest():
    safety = dict(base("2026-12-30", "09:00:00", "safety"), file="mariadb-bin.000009")
    after = dict(base("2026-12-30", "09:00:00", "after_restore"), file="mariadb-bin.000010")
    chosen = select({"bases": [after, safety]}, {"daily": 1, "weekly": 0, "monthly": 0, "keep_within_hours": 0}, NOW)
    assert chosen["keep"] == ["20261230T090000Z-after_restore"]
