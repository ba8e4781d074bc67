"""The migration_violations filter: through FilterModule, and once through the real `ansible`.

The policy itself is tested in module_utils/test_migration_policy.py; here only what the filter
adds: its name, its positional contract_allowed, AnsibleFilterError for bad input, and the whole
path the role uses (release_migrations lookup piped into the filter, the repo's ansible.cfg).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from plugins.filter.migration_filters import DOCUMENTATION, EXAMPLES, RETURN, FilterModule

REPO = Path(__file__).resolve().parents[4]
BIN = REPO / ".venv" / "bin"
FILTERS = FilterModule().filters()
migration_violations = FILTERS["migration_violations"]
RESULT = re.compile(r"^localhost \| (SUCCESS|FAILED!) => (\{\n.*?\n\})$", re.M | re.S)

DROP_NAME = "ALTER TABLE users DROP COLUMN name;\n"
DROP_NAME_REASON = ("drops a column; the previous release may still read it. Expand first, and drop it in "
                    "a later release marked `-- stackguard: contract`.")
CONTRACT_REFUSED = ("drops a column; the previous release may still read it. The migration is marked "
                    "`-- stackguard: contract`, but contract steps are refused while the previous release "
                    "is still a rollback target (contract_allowed is false).")


def app_migrations():
    return [{"version": int(p.name[:4]), "name": p.name, "sql": p.read_text(encoding="utf-8")}
            for p in sorted((REPO / "app" / "migrations").glob("*.sql"))]


def test_filter_names_and_documentation():
    # ansible-doc parses these as YAML: a stray ": " in a description would break it.
    assert set(FILTERS) == {"migration_violations"}
    doc = yaml.safe_load(DOCUMENTATION)
    assert doc["name"] == "migration_violations" and doc["positional"] == "contract_allowed"
    assert set(doc["options"]) == {"_input", "contract_allowed"}
    assert doc["options"]["contract_allowed"] == dict(doc["options"]["contract_allowed"], type="bool", default=False)
    assert yaml.safe_load(EXAMPLES)[0]["ansible.builtin.assert"]
    assert set(yaml.safe_load(RETURN)["_value"]["contains"]) == {"version", "name", "statement", "reason"}


def test_the_apps_migrations_give_no_violation():
    assert migration_violations(app_migrations()) == []


def test_a_violation_is_a_plain_item():
    migrations = app_migrations() + [{"version": 3, "name": "0003_drop_name.sql", "sql": DROP_NAME}]
    assert migration_violations(migrations) == [{
        "version": 3, "name": "0003_drop_name.sql", "statement": "ALTER TABLE users DROP COLUMN name",
        "reason": DROP_NAME_REASON}]


def test_contract_allowed_is_positional_and_needs_the_marker():
    contract = [{"version": 9, "name": "0009_drop_name.sql", "sql": "-- stackguard: contract\n" + DROP_NAME}]
    assert [v["reason"] for v in migration_violations(contract)] == [CONTRACT_REFUSED]
    assert [v["reason"] for v in migration_violations(contract, False)] == [CONTRACT_REFUSED]
    assert migration_violations(contract, True) == []
    assert migration_violations(contract, contract_allowed=True) == []


@pytest.mark.parametrize("migrations, contract_allowed, message", [
    ("DROP TABLE users;", False, "migration_violations: migrations must be a list of {version, name, sql}, not str"),
    ({"version": 1}, False, "migration_violations: migrations must be a list of {version, name, sql}, not dict"),
    ([["DROP TABLE users;"]], False,
     "migration_violations: migration #1 must be a mapping with version, name and sql, not list"),
    ([{"version": 1, "name": "0001_x.sql", "sql": 5}], False,
     "migration_violations: migration 0001_x.sql: sql must be text, not int"),
    ([], "false", "migration_violations: contract_allowed must be true or false, not str 'false'"),
])
def test_bad_input_is_an_ansible_filter_error(migrations, contract_allowed, message):
    with pytest.raises(AnsibleFilterError) as error:
        migration_violations(migrations, contract_allowed)
    assert error.value.message == message


@pytest.mark.skipif(not (BIN / "ansible").exists(), reason=".venv has no ansible (make toolchain)")
def test_through_ansible_with_the_release_migrations_lookup(tmp_path):
    # Releases as the role unpacks them: app/ itself, one adding a drop, one whose drop is a contract.
    bad = tmp_path / "bad" / "migrations"
    contract = tmp_path / "contract" / "migrations"
    for directory in (bad, contract):
        directory.mkdir(parents=True)
        for path in sorted((REPO / "app" / "migrations").glob("*.sql")):
            (directory / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (bad / "0003_drop_name.sql").write_text("-- 0003: drop users.name.\n" + DROP_NAME, encoding="utf-8")
    (contract / "0003_drop_name.sql").write_text("-- stackguard: contract\n" + DROP_NAME, encoding="utf-8")
    expression = (
        "{{ {'app': query('release_migrations', app) | migration_violations,"
        " 'bad': query('release_migrations', bad) | migration_violations,"
        " 'contract_refused': query('release_migrations', contract) | migration_violations(allow | bool),"
        " 'contract_allowed': query('release_migrations', contract) | migration_violations(true)} }}")
    extra = {"app": str(REPO / "app"), "bad": str(bad.parent), "contract": str(contract.parent)}
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CALLBACK_RESULT_FORMAT="json", PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(
        [str(BIN / "ansible"), "localhost", "-c", "local", "-i", "localhost,", "-m", "ansible.builtin.debug",
         "-a", json.dumps({"msg": expression}), "-e", json.dumps(extra), "-e", "allow=false"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    output = proc.stdout + proc.stderr
    match = RESULT.search(proc.stdout)
    assert match and match.group(1) == "SUCCESS", output
    assert "Traceback (most recent call last)" not in output
    msg = json.loads(match.group(2))["msg"]
    dropped = {"version": 3, "name": "0003_drop_name.sql", "statement": "ALTER TABLE users DROP COLUMN name"}
    assert msg == {
        "app": [],
        "bad": [dict(dropped, reason=DROP_NAME_REASON)],
        "contract_refused": [dict(dropped, reason=CONTRACT_REFUSED)],
        "contract_allowed": [],
    }
