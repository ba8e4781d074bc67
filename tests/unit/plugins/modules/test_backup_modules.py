"""backup_restore and backup_verify, run for real through `ansible localhost -m ...`, against the
throwaway MariaDB server and store of test_backup_jobs.py (its fixture, imported by path)."""
import importlib.util
import json
import time
from pathlib import Path

import pytest

from tests.unit.ansible_adhoc import ansible

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("backup_jobs_env", HERE.parent / "module_utils" / "test_backup_jobs.py")
_jobs_tests = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_jobs_tests)
env = _jobs_tests.env  # the module-scoped fixture: a real server, store and scratch instance


@pytest.fixture(scope="module")
def archived(env):
    env.jobs().base("daily")
    _jobs_tests.add_accounts(env, "module", 2)
    before = env.rows()
    point = _jobs_tests.next_second()
    env.sql("DELETE FROM messages WHERE body LIKE '%module-%'")
    return {"point": point, "before": before}


def test_check_mode_plans_and_changes_nothing(env, archived):
    scratch = Path(env.base / "scratch" / "data")
    rc, result = ansible("backup_restore", {"restore_to": archived["point"], "config": env.config_path}, "--check")
    assert rc == 0, result
    assert result["changed"] is False
    assert result["plan"]["stop"] == {"datetime": archived["point"]}
    assert result["plan"]["base"]["kind"] == "daily"
    assert not scratch.exists()


def test_a_restore_lands_in_the_scratch_instance(env, archived):
    rc, result = ansible("backup_restore", {"restore_to": archived["point"], "config": env.config_path})
    assert rc == 0, result
    assert result["changed"] is True
    assert env.rows(socket=result["scratch_socket"]) == archived["before"]
    assert any("restoring" in line for line in result["log"])


def test_a_refusal_fails_saying_nothing_changed(env, archived):
    rc, result = ansible("backup_restore", {"restore_to": "1990-01-01 00:00:00", "config": env.config_path})
    assert rc != 0
    assert result["refused"] is True
    assert result["msg"].startswith("restore refused, nothing was changed: restore_to 1990-01-01 00:00:00 UTC is "
                                    "before the oldest base backup")


def test_a_bad_point_is_refused_with_the_forms_it_takes(env, archived):
    rc, result = ansible("backup_restore", {"restore_to": "last tuesday", "config": env.config_path})
    assert rc != 0 and "restore_to takes a UTC time" in result["msg"]


def test_the_restore_test_module_compares_and_reports(env, archived):
    rc, result = ansible("backup_verify", {"config": env.config_path})
    assert rc == 0, result
    assert result["differences"] == [] and result["live"] == result["restored"]
    status = json.loads((env.base / "status.json").read_text())
    assert status["runs"]["verify"]["last_status"] == "ok"
    assert time.time() - _jobs_tests.parse_time(status["runs"]["verify"]["last_success_at"]) < 120


def test_the_restore_test_module_in_check_mode_only_plans(env, archived):
    rc, result = ansible("backup_verify", {"config": env.config_path}, "--check")
    assert rc == 0, result
    assert result["changed"] is False and result["plan"]["point"] == "latest (everything archived)"


def test_a_missing_configuration_is_named(tmp_path):
    rc, result = ansible("backup_verify", {"config": str(tmp_path / "nope.json")})
    assert rc != 0 and "run playbooks/configure-backup.yml" in result["msg"]
