"""The release_migrations lookup, driven for real through the `ansible` command with the repo's config.

One ad-hoc `ansible.builtin.debug` run of ``query('release_migrations', dir)`` whose inventory has
one host per case (the release directory is a host variable), against the real app/ tree and
release directories built in tmp_path.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[4]
BIN = REPO / ".venv" / "bin"
RESULT = re.compile(r"^([\w.-]+) \| (SUCCESS|FAILED!) => (\{\n.*?\n\})$", re.M | re.S)

pytestmark = pytest.mark.skipif(not (BIN / "ansible").exists(), reason=".venv has no ansible (make toolchain)")

RELEASES = {
    "ordered": {
        "0010_add_index.sql": "CREATE INDEX i ON t (v);\n",
        "0002_create_t.sql": "CREATE TABLE t (v VARCHAR(8));\n",
        "0003_seed.sql": "INSERT INTO t VALUES ('caf\u00e9');\n",
    },
    "bad-name": {"0001_create_users.sql": "SELECT 1;\n", "2_Add-Column.sql": "SELECT 2;\n"},
    "not-sql": {"0001_create_users.sql": "SELECT 1;\n", "README.md": "notes\n"},
    "duplicate": {
        "0001_create_users.sql": "SELECT 1;\n",
        "0002_create_messages.sql": "SELECT 2;\n",
        "0002_add_index.sql": "SELECT 3;\n",
    },
    "not-utf8": {"0001_latin1.sql": b"INSERT INTO t VALUES ('caf\xe9');\n"},
    "number-zero": {"0000_init.sql": "SELECT 0;\n", "0001_create_users.sql": "SELECT 1;\n"},
    "no-migrations": None,
}


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    root = tmp_path_factory.mktemp("releases")
    dirs = {"app": REPO / "app"}
    for case, files in RELEASES.items():
        release = dirs[case] = root / case
        release.mkdir()
        (release / "composer.json").write_text("{}\n")
        if files is None:
            continue
        (release / "migrations").mkdir()
        for name, content in files.items():
            path = release / "migrations" / name
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
    inventory = root / "cases.yml"
    inventory.write_text(yaml.safe_dump(
        {"all": {"hosts": {case: {"case_release": str(d)} for case, d in dirs.items()}}}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CALLBACK_RESULT_FORMAT="json", PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(
        [str(BIN / "ansible"), "all", "-i", str(inventory), "-c", "local", "-m", "ansible.builtin.debug",
         "-a", "msg={{ query('release_migrations', case_release) }}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    output = proc.stdout + proc.stderr
    results = {m.group(1): dict(json.loads(m.group(3)), status=m.group(2))
               for m in RESULT.finditer(proc.stdout)}
    assert set(results) == set(dirs), output
    return output, results, dirs


def test_the_app_migrations_are_read_in_order_with_their_sql(table):
    result = table[1]["app"]
    assert result["status"] == "SUCCESS"
    directory = REPO / "app" / "migrations"
    expected = [{"version": int(p.name[:4]), "name": p.name, "sql": p.read_text(encoding="utf-8")}
                for p in sorted(directory.glob("*.sql"))]
    assert expected, "app/migrations holds no migration"
    assert result["msg"] == expected


def test_migrations_are_sorted_by_number_not_listed_order(table):
    result = table[1]["ordered"]
    assert result["status"] == "SUCCESS"
    assert [(m["version"], m["name"]) for m in result["msg"]] == [
        (2, "0002_create_t.sql"), (3, "0003_seed.sql"), (10, "0010_add_index.sql")]
    assert result["msg"][1]["sql"] == "INSERT INTO t VALUES ('caf\u00e9');\n"


def test_a_release_without_migrations_dir_has_none(table):
    result = table[1]["no-migrations"]
    assert result["status"] == "SUCCESS"
    assert result["msg"] == []


@pytest.mark.parametrize("case, fragment", [
    ("bad-name", "{dir}/migrations/2_Add-Column.sql: a migration's name must be NNNN_lower_case_name.sql"),
    ("not-sql", "{dir}/migrations/README.md: a migration's name must be NNNN_lower_case_name.sql"),
    ("duplicate", "{dir}/migrations: 0002_add_index.sql and 0002_create_messages.sql have the same number 2"),
])
def test_a_bad_migrations_dir_is_refused_naming_the_files(table, case, fragment):
    output, results, dirs = table
    assert results[case]["status"] == "FAILED!"
    assert ("The lookup plugin 'release_migrations' failed: " + fragment.format(dir=dirs[case])
            in results[case]["msg"])
    assert "Traceback (most recent call last)" not in output


def test_a_migration_that_is_not_utf8_is_refused_naming_the_file(table):
    output, results, dirs = table
    assert results["not-utf8"]["status"] == "FAILED!"
    assert f"{dirs['not-utf8']}/migrations/0001_latin1.sql" in results["not-utf8"]["msg"]


def test_migration_number_zero_is_refused_on_the_controller(table):
    output, results, dirs = table
    assert results["number-zero"]["status"] == "FAILED!"
    assert f"{dirs['number-zero']}/migrations/0000_init.sql" in results["number-zero"]["msg"]
