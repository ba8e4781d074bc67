"""backup_catalog: times, names, manifests and the normalized catalog, case by case."""
import copy

import pytest

from ansible.module_utils.backup_catalog import (
    CatalogError, base_id, binlog_key, check_base_id, check_file_name, check_marker_id, check_source,
    human, iso, manifest_problems, normalize, parse_stamp, parse_time, server_major, split_binlog_key, stamp)

T = 1796083140  # 2026-11-30 23:59:00 UTC

MANIFEST = {
    "format": 1, "id": "20261130T235900Z-daily", "kind": "daily", "database": "stackguard",
    "consistent_at": "2026-11-30T23:59:01Z", "binlog": {"file": "mariadb-bin.000012", "position": 389},
    "server_version": "10.5.29-MariaDB-0+deb11u1-log",
    "dump": {"file": "dump.sql.gz", "sha256": "a" * 64, "size": 1234},
}


@pytest.mark.parametrize("text", [
    "2026-11-30 23:59:00", "2026-11-30T23:59:00", "2026-11-30T23:59:00Z", "2026-11-30 23:59:00 UTC",
    "2026-11-30 23:59:00+00:00", "2026-11-30T23:59:00-0000", " 2026-11-30 23:59:00 ", "2026-11-30 23:59:00.75",
])
def test_parse_time_reads_every_utc_spelling(text):
    assert parse_time(text) == T


@pytest.mark.parametrize("text, message", [
    ("2026-11-30 23:59", "is not a UTC time"),
    ("30.11.2026 23:59:00", "is not a UTC time"),
    ("2026-11-30 23:59:00+01:00", "is not a UTC time"),
    ("2026-11-30 23:59:00 CET", "is not a UTC time"),
    ("2026-02-30 10:00:00", "is not a valid time"),
    ("2026-11-30 24:00:00", "is not a valid time"),
    ("", "is not a UTC time"),
    (None, "is not a UTC time"),
    (1796083140, "is not a UTC time"),
])
def test_parse_time_refuses_anything_else(text, message):
    with pytest.raises(CatalogError, match=message):
        parse_time(text, "restore_to")


def test_time_formats_round_trip():
    assert (iso(T), human(T), stamp(T)) == ("2026-11-30T23:59:00Z", "2026-11-30 23:59:00", "20261130T235900Z")
    assert parse_time(iso(T)) == parse_time(human(T)) == parse_stamp(stamp(T)) == T


@pytest.mark.parametrize("kind, n, expected", [
    ("daily", 0, "20261130T235900Z-daily"),
    ("pre_deploy", 0, "20261130T235900Z-pre_deploy"),
    ("safety", 2, "20261130T235900Z-safety-2"),
])
def test_base_ids(kind, n, expected):
    assert base_id(T, kind, n) == expected
    assert check_base_id(expected) == expected


@pytest.mark.parametrize("text", ["20261130T235900Z-weekly", "20261130T235900Z", "../20261130T235900Z-daily",
                                  "20261330T235900Z-daily", "x-daily", ""])
def test_check_base_id_refuses(text):
    with pytest.raises(CatalogError):
        check_base_id(text)


def test_base_id_refuses_an_unknown_kind():
    with pytest.raises(CatalogError, match="backup kind 'hourly' is not one of daily, pre_deploy"):
        base_id(T, "hourly")


def test_binlog_keys_round_trip():
    key = binlog_key(T, "mariadb-bin.000012")
    assert key == "20261130T235900Z_mariadb-bin.000012"
    assert split_binlog_key(key) == (T, "mariadb-bin.000012")


@pytest.mark.parametrize("key", ["mariadb-bin.000012", "20261130T235900Z_../x.000001", "20261130T235900Z_x",
                                 "20261130T235900Z_mariadb-bin.000012.json"])
def test_split_binlog_key_refuses(key):
    with pytest.raises(CatalogError):
        split_binlog_key(key)


@pytest.mark.parametrize("check, good, bad", [
    (check_file_name, "dump.sql.gz", ["..", ".", "a/b", "", ".hidden"]),
    (check_marker_id, "20261130T235900Z-in_place_restore", ["x", "20261130T235900Z", "20261130T235900Z-../x"]),
    (check_source, "db1", ["..", "a/b", "", "-x"]),
])
def test_name_checks(check, good, bad):
    assert check(good) == good
    for name in bad:
        with pytest.raises(CatalogError):
            check(name)


@pytest.mark.parametrize("version, major", [
    ("10.5.29-MariaDB-0+deb11u1-log", "10.5"), ("10.11.18-MariaDB", "10.11"), ("11.4.2", "11.4"),
])
def test_server_major(version, major):
    assert server_major(version) == major


@pytest.mark.parametrize("version", ["", None, "MariaDB", "v10.5"])
def test_server_major_refuses(version):
    with pytest.raises(CatalogError):
        server_major(version)


def test_a_whole_manifest_has_no_problems():
    assert manifest_problems(MANIFEST) == []


def _without(field):
    out = copy.deepcopy(MANIFEST)
    del out[field]
    return out


def _with(**changes):
    out = copy.deepcopy(MANIFEST)
    out.update(changes)
    return out


@pytest.mark.parametrize("manifest, problem", [
    ([], "manifest.json is not a JSON object"),
    (_without("dump"), "manifest field 'dump' is missing"),
    (_without("binlog"), "manifest field 'binlog' is missing"),
    (_with(format=2), "manifest format 2 is not 1"),
    (_with(id="nonsense"), "is not a base backup id"),
    (_with(consistent_at="yesterday"), "is not a UTC time"),
    (_with(server_version="unknown"), "is not a MariaDB server version"),
    (_with(binlog={"file": "mariadb-bin.000012", "position": 2}), "position >= 4"),
    (_with(binlog={"file": "mariadb-bin.000012"}), "position >= 4"),
    (_with(dump={"file": "dump.sql.gz", "sha256": "xyz", "size": 1}), "{file, sha256, size}"),
])
def test_manifest_problems_name_the_field(manifest, problem):
    problems = manifest_problems(manifest)
    assert any(problem in p for p in problems), problems


def _entry(manifest=MANIFEST, files=None, entry_id=None):
    return {"id": entry_id or (manifest or {}).get("id", "20261130T235900Z-daily"), "manifest": manifest,
            "files": {"dump.sql.gz": 1234, "manifest.json": 400} if files is None else files, "problems": []}


def test_normalize_keeps_good_bases_in_time_order_and_sets_bad_ones_apart():
    older = _with(id="20261129T235900Z-daily", consistent_at="2026-11-29T23:59:01Z")
    short = _with(id="20261128T235900Z-daily", consistent_at="2026-11-28T23:59:01Z")
    listing = {"source": "db1", "bases": [
        _entry(),
        _entry(older),
        _entry(short, files={"dump.sql.gz": 1000, "manifest.json": 400}),
        _entry(_with(id="20261127T235900Z-daily"), files={"manifest.json": 400}),
        _entry(MANIFEST, entry_id="20261126T235900Z-daily"),
        {"id": "20261130T120000Z-manual", "manifest": None, "files": {"dump.sql.gz": 10},
         "problems": ["no manifest.json"]},
    ], "binlogs": [], "markers": []}
    catalog = normalize(listing)
    assert [b["id"] for b in catalog["bases"]] == ["20261129T235900Z-daily", "20261130T235900Z-daily"]
    assert catalog["bases"][1]["consistent_at"] == T + 1
    assert (catalog["bases"][1]["file"], catalog["bases"][1]["position"]) == ("mariadb-bin.000012", 389)
    bad = {b["id"]: b["problems"] for b in catalog["bad_bases"]}
    assert bad == {
        "20261128T235900Z-daily": ["dump file dump.sql.gz has 1000 bytes, the manifest says 1234"],
        "20261127T235900Z-daily": ["dump file dump.sql.gz is missing"],
        "20261126T235900Z-daily": ["manifest id '20261130T235900Z-daily' differs from its directory "
                                   "'20261126T235900Z-daily'"],
        "20261130T120000Z-manual": ["no manifest.json", "manifest.json is not a JSON object"],
    }


def test_normalize_orders_binlogs_by_start_then_name_and_converts_times():
    def meta(key, started, last):
        return {"key": key, "name": key.split("_", 1)[1], "sha256": "b" * 64, "size": 10, "started_at": started,
                "last_event_at": last, "end": "rotate", "next": "x"}
    catalog = normalize({"bases": [], "binlogs": [
        meta("20261130T000002Z_mariadb-bin.000002", "2026-11-30T00:00:02Z", "2026-11-30T00:05:00Z"),
        meta("20261129T000000Z_mariadb-bin.000009", "2026-11-29T00:00:00Z", "2026-11-29T00:05:00Z"),
        meta("20261130T000002Z_mariadb-bin.000001", "2026-11-30T00:00:02Z", "2026-11-30T00:00:02Z"),
    ], "markers": [{"id": "20261130T000000Z-in_place_restore", "at": "2026-11-30T00:00:00Z", "binlog": {}}]})
    assert [b["key"] for b in catalog["binlogs"]] == [
        "20261129T000000Z_mariadb-bin.000009", "20261130T000002Z_mariadb-bin.000001",
        "20261130T000002Z_mariadb-bin.000002"]
    assert catalog["binlogs"][0]["started_at"] == parse_time("2026-11-29 00:00:00")
    assert catalog["markers"][0]["at"] == parse_time("2026-11-30 00:00:00")


@pytest.mark.parametrize("listing, message", [
    ({"binlogs": [{"key": "k", "name": "n"}]}, "archived binlog 'k': field 'sha256' is missing"),
    ({"markers": [{"id": "m"}]}, "chain-break marker 'm': field 'at' is missing"),
])
def test_normalize_refuses_records_missing_a_field(listing, message):
    with pytest.raises(CatalogError, match=message):
        normalize(listing)


def test_bases_within_one_second_are_ordered_by_their_binlog_position():
    safety = _with(id="20261130T235900Z-safety", kind="safety", binlog={"file": "mariadb-bin.000009", "position": 389})
    after = _with(id="20261130T235900Z-after_restore", kind="after_restore",
                  binlog={"file": "mariadb-bin.000010", "position": 344})
    catalog = normalize({"bases": [_entry(after), _entry(safety)]})
    assert [b["id"] for b in catalog["bases"]] == ["20261130T235900Z-safety", "20261130T235900Z-after_restore"]
