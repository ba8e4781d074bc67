"""The release_compat action plugin, driven for real through `ansible-playbook` with the repo's config.

One playbook on localhost holds every case as a named task (ignore_errors, so all run); it runs
twice, normally and with --check, and the json stdout callback gives each task's result. Releases
are real tarballs from tools/build_release.py: the reference app/, and small trees in tmp_path.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[4]
PLAYBOOK_BIN = REPO / ".venv" / "bin" / "ansible-playbook"
ACTION = REPO / "plugins" / "action" / "release_compat.py"

pytestmark = pytest.mark.skipif(not PLAYBOOK_BIN.exists(),
                                reason=f"{PLAYBOOK_BIN} is not installed (make toolchain)")

sys.path.insert(0, str(REPO / "tools"))
from build_release import build  # noqa: E402

FACTS_74 = {
    "php": {"version": "7.4.33", "extensions": ["Core", "date", "mysqli", "pdo_mysql", "mbstring", "intl",
                                                "json", "Zend OPcache", "PDO", "SPL", "standard"]},
    "mariadb": {"version": "10.5.29"},
    "apache": {"version": "2.4.67"},
    "packages": {},
    "holds": [],
    "services": {},
}
UNAVAILABLE = "(traceback unavailable)"
LOOKUP_74 = "{{ lookup('stack_manifest', 'php74-apache24', revision=1) }}"
LOOKUP_82 = "{{ lookup('stack_manifest', 'php82-apache24', revision=1) }}"


def _tree(root, composer, migrations=("0001_init.sql",)):
    root.mkdir(parents=True)
    (root / "composer.json").write_text(composer if isinstance(composer, str) else json.dumps(composer),
                                        encoding="utf-8")
    (root / "public").mkdir()
    (root / "public" / "index.php").write_text("<?php echo 'ok';\n", encoding="utf-8")
    (root / "migrations").mkdir()
    for name in migrations:
        (root / "migrations" / name).write_text("SELECT 1;\n", encoding="utf-8")
    return root


def _cases(tmp):
    out = str(tmp / "releases")
    app, _ = build(str(REPO / "app"), "stackguard-app", "1.4.2", out)
    php81, _ = build(str(_tree(tmp / "php81", {"require": {"php": "^8.1", "ext-sodium": "*",
                                                          "monolog/monolog": "^3.0"}})),
                     "acme-app", "2.0.0", out)
    broken, _ = build(str(_tree(tmp / "broken", '{\n  "require": {\n    "php": "^7.4",\n  }\n}\n')),
                      "acme-broken", "1.0.0", out)
    evil = str(tmp / "releases" / "evil-1.0.0.tar.gz")
    with tarfile.open(evil, "w:gz") as tar:
        for name in ("composer.json", "../../etc/cron.d/evil"):
            info = tarfile.TarInfo(name)
            tar.addfile(info)
    directory = _tree(tmp / "unpacked", {"require": {"php": "^7.4"}}, migrations=("0001_a.sql", "0007_b.sql"))
    os.makedirs(tmp / "rel")
    os.link(app, tmp / "rel" / "app.tar.gz")
    return {
        "compatible with facts": {"release": app, "facts": FACTS_74, "label": "web1"},
        "compatible with the php82 manifest": {"release": app, "manifest": LOOKUP_82, "label": "staging"},
        "incompatible with a manifest": {"release": php81, "manifest": LOOKUP_74, "label": "production"},
        "incompatible with facts, default label": {"release": php81, "facts": FACTS_74},
        "directory with release_version": {"release": str(directory), "facts": FACTS_74,
                                           "release_version": "0.9.0"},
        "relative path": {"release": "rel/app.tar.gz", "facts": FACTS_74},
        "missing tarball": {"release": str(tmp / "releases" / "missing-1.0.0.tar.gz"), "facts": FACTS_74},
        "composer.json not JSON": {"release": broken, "facts": FACTS_74},
        "path traversal": {"release": evil, "facts": FACTS_74},
        "php not installed": {"release": app, "facts": {**FACTS_74, "php": None}, "label": "db1"},
        "facts not the stack_facts shape": {"release": app, "facts": {"ansible_facts": {}}},
        "neither facts nor manifest": {"release": app},
        "both facts and manifest": {"release": app, "facts": FACTS_74, "manifest": LOOKUP_74},
        "facts not a mapping": {"release": app, "facts": [1, 2]},
        "no release": {"facts": FACTS_74},
        "unknown option": {"release": app, "facts": FACTS_74, "hosts": "web"},
    }


def _playbook(tmp, cases):
    tasks = [{"name": name, "release_compat": args, "ignore_errors": True} for name, args in cases.items()]
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}]
    path = tmp / "playbook.yml"
    path.write_text(json.dumps(play, indent=2), encoding="utf-8")  # JSON is YAML
    return path


def _run(playbook, tmp, *extra):
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="json",
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp / "ansible-tmp"),
               PATH=f"{REPO / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run([str(PLAYBOOK_BIN), "-i", "localhost,", str(playbook), *extra], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"ansible-playbook did not print JSON (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    results = {task["task"]["name"]: task["hosts"]["localhost"] for task in report["plays"][0]["tasks"]}
    return proc, results


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("release_compat")
    cases = _cases(tmp)
    playbook = _playbook(tmp, cases)
    with ThreadPoolExecutor(max_workers=2) as pool:
        normal = pool.submit(_run, playbook, tmp / "normal")
        check = pool.submit(_run, playbook, tmp / "check", "--check")
        return {"cases": cases, "tmp": tmp, "normal": normal.result(), "check": check.result()}


@pytest.fixture(params=["normal", "check"])
def results(request, runs):
    proc, results = runs[request.param]
    assert proc.returncode == 0, proc.stdout + proc.stderr  # every task ignores its errors
    return results


def test_every_case_ran_without_traceback(runs, results):
    assert set(results) == set(runs["cases"])
    for name, result in results.items():
        # ansible-core 2.19 puts this placeholder on every failed result, even ansible.builtin.fail's.
        assert result.get("exception", UNAVAILABLE) == UNAVAILABLE, f"{name}: {result['exception']}"
        assert "Traceback" not in json.dumps(result), name
        # An exception escaping the plugin would read "Task failed: <exception text>".
        assert not result["msg"].startswith(("Task failed", "Unexpected failure")), f"{name}: {result['msg']}"
        assert result["changed"] is False, name
    for key in ("normal", "check"):
        proc = runs[key][0]
        assert "Traceback" not in proc.stdout + proc.stderr


def test_compatible_with_facts(results):
    result = results["compatible with facts"]
    assert not result.get("failed")
    assert result["compatible"] is True
    assert result["unmet"] == []
    assert result["msg"] == "release 1.4.2 is compatible with web1"
    assert result["release"]["version"] == "1.4.2"
    assert result["release"]["schema_version"] == 2
    assert result["release"]["requires"] == {
        "php": "^7.4 || ^8.2", "mariadb": None,
        "extensions": [{"requirement": f"ext-{name}", "constraint": "*"}
                       for name in ("pdo_mysql", "mbstring", "intl", "json")]}
    assert result["release"]["ignored"] == []
    assert result["target"]["kind"] == "facts"


def test_compatible_with_a_manifest_from_the_lookup(results):
    result = results["compatible with the php82 manifest"]
    assert not result.get("failed")
    assert result["msg"] == "release 1.4.2 is compatible with staging (stack php82-apache24@1)"
    assert result["target"] == {"kind": "manifest", "label": "staging", "stack": "php82-apache24@1",
                                "php": "8.2.32", "mariadb": "10.11.18"}


def test_incompatible_with_a_manifest(results):
    result = results["incompatible with a manifest"]
    assert result["failed"] is True
    assert result["compatible"] is False
    assert result["msg"] == ("release 2.0.0 is not compatible with production (stack php74-apache24@1): "
                             "requires php ^8.1, production pins php 7.4.33; requires ext-sodium, not loaded")
    assert result["unmet"] == [{"requirement": "php", "wanted": "^8.1", "actual": "7.4.33"},
                               {"requirement": "ext-sodium", "wanted": "*", "actual": "not loaded"}]
    assert [item["requirement"] for item in result["release"]["ignored"]] == ["monolog/monolog"]


def test_incompatible_with_facts_names_the_inventory_host(results):
    result = results["incompatible with facts, default label"]
    assert result["failed"] is True
    assert result["msg"] == ("release 2.0.0 is not compatible with localhost: requires php ^8.1, "
                             "localhost runs php 7.4.33; requires ext-sodium, not loaded")


def test_directory_and_relative_path(results, runs):
    result = results["directory with release_version"]
    assert result["compatible"] is True
    assert result["release"]["version"] == "0.9.0"
    assert result["release"]["schema_version"] == 7
    assert result["release"]["migrations"] == ["0001_a.sql", "0007_b.sql"]
    relative = results["relative path"]
    assert relative["compatible"] is True, relative["msg"]
    assert relative["release"]["source"] == str(runs["tmp"] / "rel" / "app.tar.gz")


def test_php_not_installed(results):
    result = results["php not installed"]
    assert result["failed"] is True
    assert result["msg"].startswith("release 1.4.2 is not compatible with db1: requires php ^7.4 || ^8.2, "
                                    "php is not installed; requires ext-pdo_mysql, php is not installed;")


@pytest.mark.parametrize(("name", "message"), [
    ("missing tarball", "release {tmp}/releases/missing-1.0.0.tar.gz: no such file or directory"),
    ("composer.json not JSON", "release {tmp}/releases/acme-broken-1.0.0.tar.gz: composer.json is not valid "
                               "JSON: Expecting property name enclosed in double quotes at line 4, column 3"),
    ("path traversal", "release {tmp}/releases/evil-1.0.0.tar.gz: member '../../etc/cron.d/evil' is a path "
                       "with '..'; refusing the tarball"),
    ("facts not the stack_facts shape", "facts: no php key (expected the stack_facts module's result: php, "
                                        "mariadb, apache, packages, ...)"),
    ("neither facts nor manifest", "one of the following is required: facts, manifest"),
    ("both facts and manifest", "parameters are mutually exclusive: facts|manifest"),
    ("facts not a mapping", "argument 'facts' is of type list and we were unable to convert to dict"),
    ("no release", "missing required arguments: release"),
    ("unknown option", "Unsupported parameters for (release_compat) module: hosts"),
])
def test_bad_input_fails_cleanly(results, runs, name, message):
    result = results[name]
    assert result["failed"] is True
    assert message.format(tmp=runs["tmp"]) in result["msg"]
    assert "compatible" not in result


def test_check_mode_gives_the_same_results(runs):
    normal, check = runs["normal"][1], runs["check"][1]
    assert normal == check


def test_documentation_matches_the_argument_spec():
    tree = ast.parse(ACTION.read_text(encoding="utf-8"))
    strings = {node.targets[0].id: node.value.value for node in tree.body
               if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
               and isinstance(node.value, ast.Constant)}
    documentation = yaml.safe_load(strings["DOCUMENTATION"])
    examples = yaml.safe_load(strings["EXAMPLES"])
    returns = yaml.safe_load(strings["RETURN"])
    from plugins.action.release_compat import ARGUMENT_SPEC, ActionModule

    assert documentation["module"] == "release_compat"
    assert {name: {key: value for key, value in option.items() if key in ("type", "required")}
            for name, option in documentation["options"].items()} == ARGUMENT_SPEC
    assert all("release_compat" in task for task in examples)
    assert {"compatible", "release", "unmet", "msg"} <= set(returns)
    assert ActionModule.TRANSFERS_FILES is False
