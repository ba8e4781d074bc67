"""backup_plan: which base, which binlogs, where to stop, and every refusal, on hand-built chains."""
import pytest

from ansible.module_utils.backup_catalog import parse_time
from ansible.module_utils.backup_plan import RestoreRefused, parse_point, plan

V105 = "10.5.29-MariaDB-0+deb11u1-log"
V1011 = "10.11.18-MariaDB-0+deb12u1-log"


def at(text):
    return parse_time(f"2026-11-30 {text}")


def binlog(n, started, last, end="rotate", nxt=None, version=V105, size=1000, name=None):
    name = name or f"mariadb-bin.{n:06d}"
    return {"key": f"{started.replace(':', '')}_{name}", "name": name, "sha256": f"{n:064x}", "size": size,
            "end_position": size, "started_at": at(started), "last_event_at": at(last), "end": end,
            "next": nxt or f"mariadb-bin.{n + 1:06d}", "server_version": version}


def base(name, consistent, file, position=389, version=V105, database="stackguard"):
    return {"id": f"20261130T{consistent.replace(':', '')}Z-{name}", "kind": name, "good": True,
            "database": database, "consistent_at": at(consistent), "file": file, "position": position,
            "server_version": version, "dump": {"file": "dump.sql.gz", "sha256": "d" * 64, "size": 10},
            "manifest": {}}


# 10:00:00 a daily backup flushes into 000002; 12:00:00 a pre-deploy backup flushes into 000005.
BINLOGS = [
    binlog(1, "09:00:00", "10:00:00"),
    binlog(2, "10:00:00", "10:05:00"),
    binlog(3, "10:05:00", "11:00:00"),
    binlog(4, "11:00:00", "12:00:00"),
    binlog(5, "12:00:00", "12:05:00"),
    binlog(6, "12:05:00", "12:10:00"),
]
BASES = [base("daily", "10:00:00", "mariadb-bin.000002"), base("pre_deploy", "12:00:00", "mariadb-bin.000005")]


def catalog(bases=None, binlogs=None, markers=None):
    return {"source": "db1", "bases": BASES if bases is None else bases,
            "binlogs": BINLOGS if binlogs is None else binlogs, "markers": markers or []}


def names(result):
    return [b["name"][-6:] for b in result["binlogs"]]


def without(*numbers):
    return [b for b in BINLOGS if int(b["name"][-6:]) not in numbers]


# --- points ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("latest", {"kind": "latest", "text": "latest"}),
    (" LATEST ", {"kind": "latest", "text": "latest"}),
    ("2026-11-30 14:05:00", {"kind": "time", "at": parse_time("2026-11-30 14:05:00"), "text": "2026-11-30 14:05:00"}),
    ("2026-11-30T14:05:00Z", {"kind": "time", "at": parse_time("2026-11-30 14:05:00"), "text": "2026-11-30T14:05:00Z"}),
    ("mariadb-bin.000014:1234", {"kind": "position", "file": "mariadb-bin.000014", "position": 1234,
                                 "text": "mariadb-bin.000014:1234"}),
])
def test_parse_point(text, expected):
    assert parse_point(text) == expected


@pytest.mark.parametrize("text, message", [
    ("", "restore_to is required"),
    (None, "restore_to is required"),
    ("   ", "restore_to is required"),
    ("yesterday", "'yesterday' is not a UTC time"),
    ("2026-11-30 14:05:00+02:00", "is not a UTC time"),
    ("mariadb-bin.000014:2", "a binlog position is at least 4"),
    ("mariadb-bin:1234", "is not a UTC time"),
])
def test_parse_point_refuses_with_the_forms_it_takes(text, message):
    with pytest.raises(RestoreRefused, match=message) as error:
        parse_point(text)
    assert "latest" in str(error.value)


def test_a_date_cut_off_by_an_unquoted_extra_var_is_refused_with_the_quoting_that_works():
    # `-e restore_to="2026-11-30 14:05:00"` reaches Ansible as restore_to=2026-11-30 14:05:00, which
    # it reads as restore_to=2026-11-30: a restore to midnight would silently lose the day.
    with pytest.raises(RestoreRefused) as error:
        parse_point("2026-11-30")
    assert "-e \"restore_to='2026-11-30 14:05:00'\"" in str(error.value)
    assert "2026-11-30T14:05:00" in str(error.value)


# --- times ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("point, base_id, files, stop", [
    ("10:30:00", "20261130T100000Z-daily", ["000002", "000003"], "2026-11-30 10:30:00"),
    ("10:05:00", "20261130T100000Z-daily", ["000002"], "2026-11-30 10:05:00"),
    ("10:00:01", "20261130T100000Z-daily", ["000002"], "2026-11-30 10:00:01"),
    ("11:59:59", "20261130T100000Z-daily", ["000002", "000003", "000004"], "2026-11-30 11:59:59"),
    ("12:00:00", "20261130T100000Z-daily", ["000002", "000003", "000004"], "2026-11-30 12:00:00"),
    ("12:00:01", "20261130T120000Z-pre_deploy", ["000005"], "2026-11-30 12:00:01"),
    ("12:07:00", "20261130T120000Z-pre_deploy", ["000005", "000006"], "2026-11-30 12:07:00"),
    ("12:10:00", "20261130T120000Z-pre_deploy", ["000005", "000006"], "2026-11-30 12:10:00"),
])
def test_a_time_uses_the_newest_base_strictly_before_it_and_the_binlogs_up_to_it(point, base_id, files, stop):
    result = plan(catalog(), f"2026-11-30 {point}")
    assert result["base"]["id"] == base_id
    assert names(result) == files
    assert result["stop"] == {"datetime": stop}
    assert result["start_position"] == 389
    assert result["point_kind"] == "time"


def test_a_time_before_the_oldest_base_is_refused_with_the_earliest_point():
    with pytest.raises(RestoreRefused) as error:
        plan(catalog(), "2026-11-30 09:59:59")
    assert str(error.value) == (
        "restore_to 2026-11-30 09:59:59 UTC is before the oldest base backup (20261130T100000Z-daily, "
        "consistent at 2026-11-30 10:00:00 UTC): there is nothing to restore it from. The earliest point "
        "that can be restored is 2026-11-30 10:00:01 UTC.")


def test_the_exact_moment_of_the_oldest_base_is_refused_too():
    with pytest.raises(RestoreRefused, match="before the oldest base backup"):
        plan(catalog(), "2026-11-30 10:00:00")


def test_a_time_after_the_newest_archived_binlog_is_refused():
    with pytest.raises(RestoreRefused) as error:
        plan(catalog(), "2026-11-30 12:10:01")
    assert "after the newest archived binlog, which ends 2026-11-30 12:10:00 UTC" in str(error.value)
    assert "restore_to=latest" in str(error.value)


def test_a_missing_binlog_in_the_middle_is_a_gap():
    with pytest.raises(RestoreRefused) as error:
        plan(catalog(binlogs=without(3)), "2026-11-30 11:30:00")
    assert str(error.value).startswith(
        "gap in the binlog chain: mariadb-bin.000003 (after mariadb-bin.000002, which ends "
        "2026-11-30 10:05:00 UTC) is not in the archive, while later binlogs are.")
    assert "choose a point up to 2026-11-30 10:05:00 UTC" in str(error.value)


def test_a_point_before_the_gap_is_still_restorable():
    result = plan(catalog(binlogs=without(3)), "2026-11-30 10:04:00")
    assert names(result) == ["000002"]


def test_a_gap_before_a_newer_base_does_not_matter_for_points_after_it():
    result = plan(catalog(binlogs=without(3)), "2026-11-30 12:07:00")
    assert (result["base"]["id"], names(result)) == ("20261130T120000Z-pre_deploy", ["000005", "000006"])


def test_the_file_a_base_starts_in_missing_while_later_ones_exist_is_a_gap():
    with pytest.raises(RestoreRefused, match=r"gap in the binlog chain: mariadb-bin.000005 \(where base backup "
                                             r"20261130T120000Z-pre_deploy starts\)"):
        plan(catalog(binlogs=without(5)), "2026-11-30 12:07:00")


def test_a_base_with_nothing_archived_after_it_restores_only_up_to_itself():
    result = plan(catalog(binlogs=without(5, 6)), "latest")
    assert (result["base"]["id"], result["binlogs"]) == ("20261130T120000Z-pre_deploy", [])
    with pytest.raises(RestoreRefused, match="after the newest archived binlog, which ends 2026-11-30 12:00:00"):
        plan(catalog(binlogs=without(5, 6)), "2026-11-30 12:00:30")


# --- latest ---------------------------------------------------------------------------------------

def test_latest_is_the_newest_base_and_everything_after_it():
    result = plan(catalog(), "latest")
    assert (result["base"]["id"], names(result), result["stop"]) == ("20261130T120000Z-pre_deploy",
                                                                      ["000005", "000006"], None)
    assert result["restores_until"] == "2026-11-30 12:10:00 UTC (end of the newest archived binlog)"


def test_latest_across_a_gap_is_refused():
    late = BINLOGS + [binlog(8, "12:20:00", "12:30:00")]
    with pytest.raises(RestoreRefused, match="gap in the binlog chain: mariadb-bin.000007"):
        plan(catalog(binlogs=late), "latest")


def test_a_clean_restart_continues_the_chain_by_number():
    binlogs = BINLOGS[:5] + [binlog(6, "12:05:00", "12:06:00", end="stop"), binlog(7, "12:30:00", "12:40:00")]
    assert names(plan(catalog(binlogs=binlogs), "latest")) == ["000005", "000006", "000007"]


def test_a_rotate_to_a_renumbered_file_is_followed_by_its_name():
    binlogs = BINLOGS[:5] + [binlog(6, "12:05:00", "12:10:00", nxt="mariadb-bin.000100"),
                             binlog(100, "12:10:00", "12:20:00")]
    assert names(plan(catalog(binlogs=binlogs), "latest")) == ["000005", "000006", "000100"]


def test_a_name_reused_by_a_new_server_is_not_confused_with_the_old_file():
    # The old server's 000001 (09:00) and a new server's 000001 (13:00, after a disaster and a
    # restore onto a new host, which then took a base backup).
    new = [binlog(1, "13:00:00", "13:00:00"), binlog(2, "13:00:00", "13:30:00")]
    bases = BASES + [base("after_restore", "13:00:00", "mariadb-bin.000002")]
    result = plan(catalog(bases=bases, binlogs=BINLOGS + new), "latest")
    assert [b["key"] for b in result["binlogs"]] == ["130000_mariadb-bin.000002"]
    result = plan(catalog(bases=bases, binlogs=BINLOGS + new), "2026-11-30 10:30:00")
    assert [b["key"] for b in result["binlogs"]] == ["100000_mariadb-bin.000002", "100500_mariadb-bin.000003"]


def test_no_good_base_at_all_is_refused():
    with pytest.raises(RestoreRefused, match="there is no good base backup of database stackguard from db1"):
        plan(catalog(bases=[]), "latest", database="stackguard")


def test_bases_of_another_database_are_ignored():
    other = [base("daily", "10:00:00", "mariadb-bin.000002", database="other")]
    with pytest.raises(RestoreRefused, match="no good base backup of database stackguard"):
        plan(catalog(bases=other), "latest", database="stackguard")


# --- positions ------------------------------------------------------------------------------------

@pytest.mark.parametrize("point, base_id, files", [
    ("mariadb-bin.000003:500", "20261130T100000Z-daily", ["000002", "000003"]),
    ("mariadb-bin.000002:389", "20261130T100000Z-daily", ["000002"]),
    ("mariadb-bin.000005:700", "20261130T120000Z-pre_deploy", ["000005"]),
    ("mariadb-bin.000006:4", "20261130T120000Z-pre_deploy", ["000005", "000006"]),
])
def test_a_position_uses_the_newest_base_before_it(point, base_id, files):
    result = plan(catalog(), point)
    assert (result["base"]["id"], names(result)) == (base_id, files)
    assert result["stop"] == {"position": int(point.split(":")[1])}


def test_a_position_before_a_base_in_the_same_file_uses_the_older_base():
    bases = [BASES[0], base("pre_deploy", "12:00:00", "mariadb-bin.000005", position=900)]
    result = plan(catalog(bases=bases), "mariadb-bin.000005:600")
    assert (result["base"]["id"], names(result)) == ("20261130T100000Z-daily",
                                                      ["000002", "000003", "000004", "000005"])


def test_a_position_before_the_oldest_base_is_refused():
    with pytest.raises(RestoreRefused, match="is before the oldest base backup .20261130T100000Z-daily, which "
                                             "starts at mariadb-bin.000002:389"):
        plan(catalog(), "mariadb-bin.000001:500")


def test_a_position_in_a_file_that_is_not_archived_is_refused():
    with pytest.raises(RestoreRefused, match="binlog mariadb-bin.000042 is not in the archive"):
        plan(catalog(), "mariadb-bin.000042:500")


def test_a_position_past_the_end_of_its_file_is_refused():
    with pytest.raises(RestoreRefused, match="mariadb-bin.000003 ends at byte 1000; give a position inside it"):
        plan(catalog(), "mariadb-bin.000003:1001")


def test_a_position_behind_a_gap_is_refused():
    with pytest.raises(RestoreRefused, match="gap in the binlog chain: mariadb-bin.000003"):
        plan(catalog(binlogs=without(3)), "mariadb-bin.000004:500")


# --- versions and chain breaks --------------------------------------------------------------------

def test_a_base_from_another_major_version_is_refused():
    with pytest.raises(RestoreRefused) as error:
        plan(catalog(), "latest", server_version=V1011)
    assert str(error.value).startswith(
        "base backup 20261130T120000Z-pre_deploy was taken on MariaDB 10.5.29-MariaDB-0+deb11u1-log (major 10.5); "
        "this server runs 10.11.18-MariaDB-0+deb12u1-log (major 10.11).")


def test_the_same_major_version_with_another_patch_level_is_fine():
    assert plan(catalog(), "latest", server_version="10.5.23-MariaDB")["base"]["id"] == "20261130T120000Z-pre_deploy"


def test_a_binlog_from_another_major_version_is_refused():
    binlogs = BINLOGS[:5] + [binlog(6, "12:05:00", "12:10:00", version=V1011)]
    with pytest.raises(RestoreRefused, match="archived binlog mariadb-bin.000006 was written by MariaDB 10.11.18"):
        plan(catalog(binlogs=binlogs), "latest", server_version=V105)


MARKER = {"id": "20261130T110000Z-in_place_restore", "at": at("11:00:00"),
          "binlog": {"file": "mariadb-bin.000004", "position": 389}}


def test_a_point_across_an_in_place_restore_is_refused():
    with pytest.raises(RestoreRefused, match="an in-place restore at 2026-11-30 11:00:00 UTC "
                                             r"\(20261130T110000Z-in_place_restore\) lies between base backup "
                                             "20261130T100000Z-daily and 2026-11-30 11:30:00 UTC"):
        plan(catalog(markers=[MARKER]), "2026-11-30 11:30:00")


def test_points_before_an_in_place_restore_and_after_the_next_base_are_fine():
    assert names(plan(catalog(markers=[MARKER]), "2026-11-30 10:59:59")) == ["000002", "000003"]
    assert plan(catalog(markers=[MARKER]), "2026-11-30 12:07:00")["base"]["id"] == "20261130T120000Z-pre_deploy"
    assert plan(catalog(markers=[MARKER]), "latest")["base"]["id"] == "20261130T120000Z-pre_deploy"


def test_a_position_across_an_in_place_restore_is_refused():
    with pytest.raises(RestoreRefused, match="an in-place restore at 2026-11-30 11:00:00 UTC"):
        plan(catalog(markers=[MARKER]), "mariadb-bin.000004:500")
    assert names(plan(catalog(markers=[MARKER]), "mariadb-bin.000004:300")) == ["000002", "000003", "000004"]
    assert names(plan(catalog(markers=[MARKER]), "mariadb-bin.000003:300")) == ["000002", "000003"]


def test_the_plan_carries_what_the_restore_needs():
    result = plan(catalog(), "2026-11-30 10:30:00")
    assert result["base"]["binlog"] == {"file": "mariadb-bin.000002", "position": 389}
    assert result["binlogs"][0] == {"key": "100000_mariadb-bin.000002", "name": "mariadb-bin.000002",
                                    "sha256": f"{2:064x}", "size": 1000, "next": "mariadb-bin.000003",
                                    "started_at": "2026-11-30 10:00:00",
                                    "last_event_at": "2026-11-30 10:05:00"}
    assert result["restores_until"] == "2026-11-30 10:30:00 UTC (exclusive)"


def test_a_gap_between_files_flushed_within_one_second_is_still_seen():
    binlogs = [binlog(1, "10:00:00", "10:00:00"), binlog(3, "10:00:00", "10:00:00"),
               binlog(2, "10:00:00", "10:00:00", name="mariadb-bin.000002")]
    bases = [base("daily", "10:00:00", "mariadb-bin.000001")]
    assert names(plan(catalog(bases=bases, binlogs=binlogs), "latest")) == ["000001", "000002", "000003"]
    with pytest.raises(RestoreRefused, match="gap in the binlog chain: mariadb-bin.000002"):
        plan(catalog(bases=bases, binlogs=binlogs[:2]), "latest")


def test_an_in_place_restore_within_one_second_blocks_only_the_bases_before_it():
    # 12:20:00 a safety backup flushes into 000007; the restore's marker is in 000007 after it;
    # the after-restore backup flushes into 000008, all within the same second.
    binlogs = BINLOGS + [binlog(7, "12:20:00", "12:20:00"), binlog(8, "12:20:00", "12:30:00")]
    bases = BASES + [base("safety", "12:20:00", "mariadb-bin.000007"),
                     base("after_restore", "12:20:00", "mariadb-bin.000008")]
    marker = {"id": "20261130T122000Z-in_place_restore", "at": at("12:20:00"),
              "binlog": {"file": "mariadb-bin.000007", "position": 389}}
    cat = catalog(bases=bases, binlogs=binlogs, markers=[marker])
    assert plan(cat, "latest")["base"]["id"] == "20261130T122000Z-after_restore"
    # Listed in any order (the ids sort after_restore before safety): the binlog position decides.
    assert plan(catalog(bases=bases[::-1], binlogs=binlogs, markers=[marker]), "latest")["base"]["id"] == \
        "20261130T122000Z-after_restore"
    assert plan(cat, "2026-11-30 12:25:00")["base"]["id"] == "20261130T122000Z-after_restore"
    assert plan(cat, "2026-11-30 12:15:00")["base"]["id"] == "20261130T120000Z-pre_deploy"
    assert plan(cat, "mariadb-bin.000007:389")["base"]["id"] == "20261130T122000Z-safety"
    with pytest.raises(RestoreRefused, match="an in-place restore at 2026-11-30 12:20:00 UTC"):
        plan(cat, "mariadb-bin.000007:390")
