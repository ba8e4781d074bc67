"""release_compat must refuse a release its target stack cannot run, and say exactly why.

Releases are real: source trees written in tmp_path (composer.json, public/index.php,
migrations/) packed by tools/build_release.py's build(), plus the reference app/ itself. Targets
are stack_facts-shaped host facts and the repository's own stack manifests.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import os
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from plugins.module_utils import release_compat
from plugins.module_utils.release_compat import ReleaseError, read_release, run

REPO = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(REPO / "tools"))
from build_release import build  # noqa: E402

MANIFESTS = {name: yaml.safe_load((REPO / "stacks" / f"{name}.yml").read_text(encoding="utf-8"))
             for name in ("php74-apache24", "php82-apache24")}

# What `php -m` prints on each stack's web hosts (stack_facts' php.extensions).
_LOADED_74 = ["calendar", "Core", "ctype", "date", "exif", "FFI", "fileinfo", "filter", "ftp", "gettext",
              "hash", "iconv", "intl", "json", "libxml", "mbstring", "mysqli", "mysqlnd", "openssl",
              "pcntl", "pcre", "PDO", "pdo_mysql", "Phar", "posix", "readline", "Reflection", "session",
              "shmop", "sockets", "sodium", "SPL", "standard", "sysvmsg", "sysvsem", "sysvshm",
              "tokenizer", "Zend OPcache", "zlib", "Zend OPcache"]


def facts(php="7.4.33", mariadb="10.5.29", extensions=None, drop=()):
    """A stack_facts result; php/mariadb None mean not installed."""
    loaded = [name for name in (extensions if extensions is not None else _LOADED_74) if name not in drop]
    if php and php.startswith("8.") and extensions is None:
        loaded.append("random")
    return {
        "php": None if php is None else {"version": php, "extensions": loaded},
        "mariadb": None if mariadb is None else {"version": mariadb},
        "apache": {"version": "2.4.67", "mpm": "prefork", "modules": ["php7.4", "headers"]},
        "packages": {"apache2": "2.4.67-1~deb11u3"},
        "holds": ["apache2"],
        "services": {"apache2": "running"},
    }


def manifest(name="php74-apache24"):
    return copy.deepcopy(MANIFESTS[name])


def write_tree(root, composer, migrations=("0001_create_users.sql", "0002_create_messages.sql"),
               release_json=None):
    """A release source tree; composer is a dict (dumped as JSON) or raw text/bytes."""
    root.mkdir(parents=True, exist_ok=True)
    if composer is not None:
        data = composer if isinstance(composer, (str, bytes)) else json.dumps(composer, indent=4)
        (root / "composer.json").write_bytes(data.encode() if isinstance(data, str) else data)
    (root / "public").mkdir(exist_ok=True)
    (root / "public" / "index.php").write_text("<?php\necho 'ok';\n", encoding="utf-8")
    if migrations is not None:
        (root / "migrations").mkdir(exist_ok=True)
        for name in migrations:
            (root / "migrations" / name).write_text("SELECT 1;\n", encoding="utf-8")
    if release_json is not None:
        (root / "release.json").write_text(json.dumps(release_json), encoding="utf-8")
    return root


def composer(php="^7.4 || ^8.2", mariadb=None, **require):
    data = {"name": "acme/app", "type": "project", "require": {}}
    if php is not None:
        data["require"]["php"] = php
    data["require"].update(require)
    if mariadb is not None:
        data["extra"] = {"stackguard": {"mariadb": mariadb}}
    return data


def release(tmp_path, data, form="tar", version="2.0.0", **tree):
    """Build a release from a source tree: a tarball via build_release.build(), or the tree itself."""
    source = write_tree(tmp_path / "src", data, **tree)
    if form == "dir":
        return str(source)
    target, _ = build(str(source), "acme-app", version, str(tmp_path / "out"))
    return target


def raw_tarball(path, members):
    """A .tar.gz of (TarInfo-like dicts): name, data, and optionally type/linkname."""
    with tarfile.open(path, "w:gz") as tar:
        for spec in members:
            info = tarfile.TarInfo(spec["name"])
            data = spec.get("data", b"")
            if isinstance(data, str):
                data = data.encode()
            info.type = spec.get("type", tarfile.REGTYPE)
            info.linkname = spec.get("linkname", "")
            info.size = len(data) if info.type == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    return str(path)


APP_COMPOSER = json.dumps({"require": {"php": "^7.4", "ext-intl": "*"}})

# --- compatibility: (id, composer.json, target kind, target, label, compatible, message) --------------

F74, F82, F81 = facts(), facts("8.2.32", "10.11.18"), facts("8.1.27", "10.6.20")
M74, M82 = "php74-apache24", "php82-apache24"
PREFIX = "release 2.0.0 is not compatible with "
APP_EXTENSIONS = {"ext-pdo_mysql": "*", "ext-mbstring": "*", "ext-intl": "*", "ext-json": "*"}

CASES = [
    ("app-like on 7.4 facts", composer(**APP_EXTENSIONS), "facts", F74, "web1", True, None),
    ("app-like on 8.2 manifest", composer(**APP_EXTENSIONS), "manifest", M82, "staging", True, None),
    ("php too old", composer("^8.1"), "facts", F74, "web1", False,
     PREFIX + "web1: requires php ^8.1, web1 runs php 7.4.33"),
    ("php too new", composer("~7.4.0"), "facts", F82, "web2", False,
     PREFIX + "web2: requires php ~7.4.0, web2 runs php 8.2.32"),
    ("php too new, manifest", composer(">=7.4 <8.0"), "manifest", M82, "staging", False,
     PREFIX + "staging (stack php82-apache24@1): requires php >=7.4 <8.0, staging pins php 8.2.32"),
    ("OR on 7.4.33", composer("^7.4 || ^8.2"), "facts", F74, "web1", True, None),
    ("OR on 8.2.32", composer("^7.4 || ^8.2"), "facts", F82, "web1", True, None),
    ("OR on 8.1", composer("^7.4 || ^8.2"), "facts", F81, "web1", False,
     PREFIX + "web1: requires php ^7.4 || ^8.2, web1 runs php 8.1.27"),
    ("OR on both manifests (74)", composer("^7.4 || ^8.2"), "manifest", M74, "production", True, None),
    ("distribution PHP version", composer("^7.4"), "facts", facts("7.4.33-1+deb11u12"), "web1", True, None),
    ("missing extension", composer(**{"ext-sodium": "*", "ext-intl": "*", "ext-redis": "*"}), "facts",
     facts(drop=("sodium",)), "web1", False,
     PREFIX + "web1: requires ext-sodium, not loaded; requires ext-redis, not loaded"),
    ("brief's example, manifest", composer("^8.1", **{"ext-sodium": "*"}), "manifest", M74, "production",
     False, PREFIX + "production (stack php74-apache24@1): requires php ^8.1, production pins php 7.4.33; "
     "requires ext-sodium, not loaded"),
    ("brief's example, facts", composer("^8.1", **{"ext-sodium": "*"}), "facts", facts(drop=("sodium",)),
     "web1", False, PREFIX + "web1: requires php ^8.1, web1 runs php 7.4.33; requires ext-sodium, not loaded"),
    ("ext-zend-opcache", composer(**{"ext-zend-opcache": "*"}), "facts", F74, "web1", True, None),
    ("ext-opcache", composer(**{"ext-opcache": "*"}), "manifest", M74, "production", True, None),
    ("ext-Zend-OPcache", composer(**{"ext-Zend-OPcache": "*"}), "facts", F74, "web1", True, None),
    ("opcache not loaded", composer(**{"ext-zend-opcache": "*"}), "facts", facts(drop=("Zend OPcache",)),
     "web1", False, PREFIX + "web1: requires ext-zend-opcache, not loaded"),
    ("ext-pdo-mysql dashes", composer(**{"ext-pdo-mysql": "*"}), "facts", F74, "web1", True, None),
    ("ext-pdo_mysql missing", composer(**{"ext-pdo_mysql": "*"}), "facts", facts(drop=("pdo_mysql",)),
     "web1", False, PREFIX + "web1: requires ext-pdo_mysql, not loaded"),
    ("ext-PDO case", composer(**{"ext-PDO": "*", "ext-simplexml": "*"}), "facts",
     facts(extensions=["Core", "PDO", "SimpleXML"]), "web1", True, None),
    ("bundled ext constraint met", composer(**{"ext-intl": ">=7.4"}), "facts", F74, "web1", True, None),
    ("bundled ext constraint unmet", composer(**{"ext-intl": ">=8.0", "ext-json": "^1.3"}), "facts", F74,
     "web1", False, PREFIX + "web1: requires ext-intl >=8.0, web1 runs ext-intl 7.4.33 (PHP's version); "
     "requires ext-json ^1.3, web1 runs ext-json 7.4.33 (PHP's version)"),
    ("bundled ext constraint, manifest", composer(**{"ext-mbstring": "^8.2"}), "manifest", M74,
     "production", False, PREFIX + "production (stack php74-apache24@1): requires ext-mbstring ^8.2, "
     "production pins ext-mbstring 7.4.33 (PHP's version)"),
    ("PECL ext constraint: presence only", composer(**{"ext-redis": "^5.3"}), "facts",
     facts(extensions=_LOADED_74 + ["redis"]), "web1", True, None),
    ("PECL ext constraint, not loaded", composer(**{"ext-redis": "^5.3"}), "facts", F74, "web1", False,
     PREFIX + "web1: requires ext-redis ^5.3, not loaded"),
    ("mariadb met", composer(mariadb=">=10.5 <10.12"), "facts", F82, "db1", True, None),
    ("mariadb unmet", composer(mariadb=">=10.6"), "facts", F74, "db1", False,
     PREFIX + "db1: requires mariadb >=10.6, db1 runs mariadb 10.5.29"),
    ("mariadb unmet, manifest", composer(mariadb="^10.11"), "manifest", M74, "production", False,
     PREFIX + "production (stack php74-apache24@1): requires mariadb ^10.11, production pins mariadb 10.5.29"),
    ("mariadb met, manifest", composer(mariadb="^10.11"), "manifest", M82, "staging", True, None),
    ("mariadb server version string", composer(mariadb="~10.5.20"), "facts",
     facts(mariadb="10.5.29-MariaDB-0+deb11u1"), "db1", True, None),
    ("mariadb Debian version with epoch", composer(mariadb=">=10.11"), "facts",
     facts("8.2.32", "1:10.11.18-0+deb12u1"), "db1", True, None),
    ("mariadb not installed", composer(mariadb=">=10.5"), "facts", facts(mariadb=None), "web1", False,
     PREFIX + "web1: requires mariadb >=10.5, mariadb is not installed"),
    ("mariadb not required, not installed", composer(), "facts", facts(mariadb=None), "web1", True, None),
    ("mariadb of unknown version", composer(mariadb=">=10.5"), "facts", {**F74, "mariadb": {"version": None}},
     "db1", False, PREFIX + "db1: requires mariadb >=10.5, db1 runs mariadb of an unknown version"),
    ("mariadb unknown, not required", composer(), "facts", {**F74, "mariadb": {"version": None}}, "db1", True,
     None),
    ("php not installed", composer("^7.4", mariadb="^10.5", **{"ext-intl": "*", "ext-json": ">=7"}), "facts",
     facts(php=None), "db1", False,
     PREFIX + "db1: requires php ^7.4, php is not installed; requires ext-intl, php is not installed; "
     "requires ext-json >=7, php is not installed"),
    ("always-loaded on a manifest", composer(**{"ext-spl": "*", "ext-pcre": "*", "ext-hash": "*",
                                                "ext-Reflection": "*", "ext-standard": "*"}),
     "manifest", M74, "production", True, None),
    ("ext-random needs PHP 8.2 (manifest)", composer(**{"ext-random": "*"}), "manifest", M74, "production",
     False, PREFIX + "production (stack php74-apache24@1): requires ext-random, not loaded"),
    ("ext-random on the 8.2 manifest", composer(**{"ext-random": "*"}), "manifest", M82, "staging", True, None),
    ("unlisted ext on a manifest", composer(**{"ext-ctype": "*"}), "manifest", M74, "production", False,
     PREFIX + "production (stack php74-apache24@1): requires ext-ctype, not loaded"),
    ("same ext loaded per facts", composer(**{"ext-ctype": "*"}), "facts", F74, "web1", True, None),
    ("non-platform requirements ignored", composer(**{"lib-icu": ">=60", "monolog/monolog": "^2.0",
                                                      "composer-plugin-api": "^2.0", "php-64bit": "^7.4",
                                                      "symfony/polyfill-php80": "dev-main"}),
     "facts", F74, "web1", True, None),
    ("hhvm", composer(**{"hhvm": ">=4"}), "facts", F74, "web1", False,
     PREFIX + "web1: requires hhvm >=4, web1 runs PHP, not HHVM"),
    ("every unmet listed", composer("^8.1", mariadb="^10.6", **{"ext-sodium": "*", "ext-gd": "*"}),
     "manifest", M74, "production", False,
     PREFIX + "production (stack php74-apache24@1): requires php ^8.1, production pins php 7.4.33; "
     "requires ext-sodium, not loaded; requires ext-gd, not loaded; requires mariadb ^10.6, "
     "production pins mariadb 10.5.29"),
]


def _target(kind, target):
    return {"facts": copy.deepcopy(target)} if kind == "facts" else {"manifest": manifest(target)}


@pytest.mark.parametrize("form", ["tar", "dir"])
@pytest.mark.parametrize(("data", "kind", "target", "label", "compatible", "expected"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_compatibility(tmp_path, form, data, kind, target, label, compatible, expected):
    path = release(tmp_path, data, form=form)
    result = run(path, label=label, release_version="2.0.0", **_target(kind, target))
    assert result["compatible"] is compatible, result["msg"]
    if compatible:
        assert result["unmet"] == []
        assert result["msg"].startswith("release 2.0.0 is compatible with " + label)
    else:
        assert result["msg"] == expected
        assert len(result["unmet"]) == expected.count("; ") + 1
        assert all(set(item) == {"requirement", "wanted", "actual"} for item in result["unmet"])


def test_unmet_entries_and_release_summary(tmp_path):
    data = composer("^8.1", mariadb="^10.6", **{"ext-sodium": "*", "ext-intl": ">=7", "lib-icu": ">=60",
                                                "monolog/monolog": "^2.0", "ext-apcu": "^5.1"})
    result = run(release(tmp_path, data), manifest=manifest(M74), label="production")
    assert result["unmet"] == [
        {"requirement": "php", "wanted": "^8.1", "actual": "7.4.33"},
        {"requirement": "ext-sodium", "wanted": "*", "actual": "not loaded"},
        {"requirement": "ext-apcu", "wanted": "^5.1", "actual": "not loaded"},
        {"requirement": "mariadb", "wanted": "^10.6", "actual": "10.5.29"},
    ]
    assert result["release"]["requires"] == {
        "php": "^8.1",
        "extensions": [{"requirement": "ext-sodium", "constraint": "*"},
                       {"requirement": "ext-intl", "constraint": ">=7"},
                       {"requirement": "ext-apcu", "constraint": "^5.1"}],
        "mariadb": "^10.6",
    }
    assert [(item["requirement"], item["constraint"]) for item in result["release"]["ignored"]] == [
        ("lib-icu", ">=60"), ("monolog/monolog", "^2.0"), ("ext-apcu", "^5.1")]
    reasons = {item["requirement"]: item["reason"] for item in result["release"]["ignored"]}
    assert "Composer package" in reasons["monolog/monolog"]
    assert "system library" in reasons["lib-icu"]
    assert "only its presence" in reasons["ext-apcu"]
    assert result["target"] == {"kind": "manifest", "label": "production", "stack": "php74-apache24@1",
                                "php": "7.4.33", "mariadb": "10.5.29"}


def test_default_labels(tmp_path):
    path = release(tmp_path, composer("^8.1"))
    assert run(path, manifest=manifest(M74))["msg"] == (
        PREFIX + "stack php74-apache24@1: requires php ^8.1, stack php74-apache24@1 pins php 7.4.33")
    assert run(path, facts=facts())["msg"] == PREFIX + "the host: requires php ^8.1, the host runs php 7.4.33"


# --- the reference app and real stacks ----------------------------------------------------------------


@pytest.fixture(scope="module")
def app_tarball(tmp_path_factory):
    target, _ = build(str(REPO / "app"), "stackguard-app", "1.4.2", str(tmp_path_factory.mktemp("app")))
    return target


@pytest.mark.parametrize("stack", [M74, M82])
def test_reference_app_runs_on_both_stacks(app_tarball, stack):
    result = run(app_tarball, manifest=manifest(stack), label="production")
    assert result["compatible"], result["msg"]
    assert result["release"]["version"] == "1.4.2"
    assert result["release"]["schema_version"] == 2
    assert result["release"]["migrations"] == ["0001_create_users.sql", "0002_create_messages.sql"]
    assert result["release"]["requires"]["php"] == "^7.4 || ^8.2"
    assert [item["requirement"] for item in result["release"]["requires"]["extensions"]] == [
        "ext-pdo_mysql", "ext-mbstring", "ext-intl", "ext-json"]
    assert result["release"]["ignored"] == []


@pytest.mark.parametrize(("target", "compatible"), [(F74, True), (F82, True), (F81, False)])
def test_reference_app_against_host_facts(app_tarball, target, compatible):
    assert run(app_tarball, facts=target, label="web1")["compatible"] is compatible


def test_reference_app_directory(app_tarball):
    result = run(str(REPO / "app"), facts=F74, label="web1")
    assert result["compatible"], result["msg"]
    assert result["release"]["version"] == "app"  # no release.json in the source tree
    assert result["release"]["schema_version"] == 2


def test_tarball_is_never_extracted(app_tarball, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the tarball was extracted")

    monkeypatch.setattr(tarfile.TarFile, "extract", refuse)
    monkeypatch.setattr(tarfile.TarFile, "extractall", refuse)
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(os.path.dirname(app_tarball)))
    assert run(app_tarball, facts=F74)["compatible"]
    assert sorted(os.listdir(os.path.dirname(app_tarball))) == before
    assert os.listdir(tmp_path) == []


# --- the release's version -----------------------------------------------------------------------------


def test_version_sources(tmp_path):
    built = release(tmp_path / "a", composer(), version="3.1.4")
    assert read_release(built, release_version="9.9.9")["version"] == "3.1.4"  # release.json wins
    tree = str(write_tree(tmp_path / "tree", composer()))
    assert read_release(tree, release_version="5.0.0")["version"] == "5.0.0"
    assert read_release(tree)["version"] == "tree"
    plain = raw_tarball(tmp_path / "myapp-2.5.0-rc.1.tar.gz",
                        [{"name": "composer.json", "data": APP_COMPOSER}])
    assert read_release(plain)["version"] == "2.5.0-rc.1"
    odd = raw_tarball(tmp_path / "nightly.tgz", [{"name": "./composer.json", "data": APP_COMPOSER}])
    assert read_release(odd)["version"] == "nightly"
    assert read_release(odd, release_version="7.0.0")["version"] == "7.0.0"


# --- migrations ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["tar", "dir"])
@pytest.mark.parametrize(("migrations", "schema_version", "error"), [
    (("0002_b.sql", "0001_a.sql", "0010_add_index.sql"), 10, None),
    ((), 0, None),
    (None, 0, None),
    (("0001_a.sql", "1_init.sql"), None,
     "migrations/1_init.sql: a migration's name must be NNNN_lower_case_name.sql"),
    (("0001_Init.sql",), None, "migrations/0001_Init.sql: a migration's name must be"),
    (("0001_init.SQL",), None, "migrations/0001_init.SQL: a migration's name must be"),
    (("0001_init.sql", "README.md"), None, "migrations/README.md: a migration's name must be"),
    ((".gitkeep",), None, "migrations/.gitkeep: a migration's name must be"),
    (("0001_a.sql", "0001_b.sql"), None, "migrations/0001_a.sql and migrations/0001_b.sql have the same number 1"),
    (("0000_init.sql",), None, "migrations/0000_init.sql: numbers start at 0001"),
], ids=["ordered", "empty", "none", "no-padding", "upper-case", "extension-case", "other-file", "gitkeep",
        "duplicate", "zero"])
def test_migrations(tmp_path, form, migrations, schema_version, error):
    if form == "tar" and migrations == ():
        pytest.skip("an empty directory is not in a tarball: same as 'none'")
    path = release(tmp_path, composer(), form=form, migrations=migrations)
    if error is None:
        result = read_release(path)
        assert result["schema_version"] == schema_version
        assert result["migrations"] == sorted(migrations or ())
        return
    with pytest.raises(ReleaseError) as raised:
        read_release(path)
    assert error in str(raised.value)
    assert str(raised.value).startswith(f"release {path}: ")


def test_migration_subdirectory(tmp_path):
    tree = write_tree(tmp_path / "src", composer(), migrations=("0001_a.sql",))
    (tree / "migrations" / "0002_old.sql").mkdir()
    with pytest.raises(ReleaseError, match="migrations/0002_old.sql is not a regular file"):
        read_release(str(tree))
    tarball = raw_tarball(tmp_path / "x-1.0.0.tar.gz", [
        {"name": "composer.json", "data": APP_COMPOSER},
        {"name": "migrations/0001_a.sql", "data": "SELECT 1;"},
        {"name": "migrations/archive/0001_a.sql", "data": "SELECT 1;"},
    ])
    with pytest.raises(ReleaseError, match="migrations/archive: a migration's name must be"):
        read_release(tarball)


def test_release_json_schema_version_must_match_migrations(tmp_path):
    tarball = raw_tarball(tmp_path / "x-1.0.0.tar.gz", [
        {"name": "composer.json", "data": APP_COMPOSER},
        {"name": "release.json", "data": json.dumps({"version": "1.0.0", "schema_version": 3})},
        {"name": "migrations/0001_a.sql", "data": "SELECT 1;"},
    ])
    with pytest.raises(ReleaseError, match="release.json says schema_version 3 but the highest migration is 1"):
        read_release(tarball)


# --- bad input -----------------------------------------------------------------------------------------


def _error(*args, **kwargs):
    with pytest.raises(ReleaseError) as raised:
        run(*args, **kwargs)
    text = str(raised.value)
    assert "Traceback" not in text
    return text


def test_missing_tarball(tmp_path):
    path = str(tmp_path / "missing-1.0.0.tar.gz")
    assert _error(path, facts=F74) == f"release {path}: no such file or directory"


def test_not_gzip(tmp_path):
    path = tmp_path / "app-1.0.0.tar.gz"
    path.write_text("not a tarball\n", encoding="utf-8")
    assert _error(str(path), facts=F74) == (
        f"release {path} is not a gzip file (expected a .tar.gz release tarball)")
    plain_tar = tmp_path / "plain.tar"
    with tarfile.open(plain_tar, "w") as tar:
        tar.addfile(tarfile.TarInfo("composer.json"), io.BytesIO(b""))
    assert "is not a gzip file" in _error(str(plain_tar), facts=F74)


def test_gzip_but_not_tar(tmp_path):
    path = tmp_path / "app-1.0.0.tar.gz"
    path.write_bytes(gzip.compress(b"just some text, not a tar archive\n" * 20))
    assert _error(str(path), facts=F74).startswith(f"release {path} is not a readable tar.gz archive: ")


def test_truncated_tarball(tmp_path, app_tarball):
    data = Path(app_tarball).read_bytes()
    path = tmp_path / "truncated-1.0.0.tar.gz"
    path.write_bytes(data[: len(data) // 2])
    assert _error(str(path), facts=F74).startswith(f"release {path} is not a readable tar.gz archive: ")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_tarball(tmp_path, app_tarball):
    path = tmp_path / "locked-1.0.0.tar.gz"
    path.write_bytes(Path(app_tarball).read_bytes())
    path.chmod(0)
    assert _error(str(path), facts=F74) == f"release {path} cannot be read: Permission denied"


def test_not_a_file_nor_directory(tmp_path):
    fifo = tmp_path / "release.tar.gz"
    os.mkfifo(fifo)
    assert _error(str(fifo), facts=F74) == f"release {fifo}: not a regular file nor a directory"
    assert _error("", facts=F74) == "release: expected the path of a release tarball or directory, got ''"


def test_no_composer_json(tmp_path):
    tarball = raw_tarball(tmp_path / "x-1.0.0.tar.gz", [{"name": "public/index.php", "data": "<?php"}])
    assert _error(tarball, facts=F74) == f"release {tarball}: no composer.json at the tarball root"
    nested = raw_tarball(tmp_path / "y-1.0.0.tar.gz", [{"name": "app-1.0/composer.json", "data": APP_COMPOSER}])
    assert _error(nested, facts=F74) == (f"release {nested}: no composer.json at the tarball root (found "
                                         "app-1.0/composer.json: the release must hold it at its root)")
    tree = write_tree(tmp_path / "tree", None)
    assert _error(str(tree), facts=F74) == f"release {tree}: no composer.json at its root"


def test_composer_json_not_a_file(tmp_path):
    tree = write_tree(tmp_path / "tree", None)
    (tree / "composer.json").mkdir()
    assert _error(str(tree), facts=F74) == f"release {tree}: composer.json is not a regular file"


@pytest.mark.parametrize("form", ["tar", "dir"])
@pytest.mark.parametrize(("content", "expected"), [
    ('{\n    "require": {\n        "php": "^7.4",\n    }\n}\n',
     "composer.json is not valid JSON: Expecting property name enclosed in double quotes at line 4, column 5"),
    ('{"require": {"php": "^7.4"}', "composer.json is not valid JSON: Expecting ',' delimiter at line 1, column 28"),
    ("", "composer.json is not valid JSON: Expecting value at line 1, column 1"),
    (b'{"name": "caf\xe9"}', "composer.json is not UTF-8 text (byte 13)"),
    ('["php"]', "composer.json: expected a JSON object, got list"),
    ('{"require": ["php"]}', "composer.json: require must be an object of package name to constraint, got list"),
    ('{"require": "php ^7.4"}', "composer.json: require must be an object"),
    ('{"name": "acme/app"}', "composer.json has no require.php: a release must state the PHP versions it runs on"),
    ('{"require": {"ext-intl": "*"}}', "composer.json has no require.php"),
    ('{"require": {"php": "^^7.4"}}',
     "composer.json: require.php: invalid Composer constraint '^^7.4'"),
    ('{"require": {"php": ""}}', "composer.json: require.php: invalid Composer constraint '': constraint is empty"),
    ('{"require": {"php": "~>7.4"}}', "'~>' is not a Composer operator"),
    ('{"require": {"php": "^7.4", "ext-intl": "> 7 ||", "ext-gd": 5},'
     ' "extra": {"stackguard": {"mariadb": "10.x.y"}}}',
     "composer.json: require.ext-intl: invalid Composer constraint '> 7 ||': one side of '||' is empty; "
     "require.ext-gd: expected a constraint text, got 5; extra.stackguard.mariadb: invalid Composer "
     "constraint '10.x.y'"),
    ('{"require": {"php": "^7.4", "intl": "*"}}',
     "composer.json: require.intl: not a platform package (php, ext-*, lib-*) nor a Composer package name"),
    ('{"require": {"php": "^7.4"}, "extra": []}', "composer.json: extra: expected an object, got list"),
    ('{"require": {"php": "^7.4"}, "extra": {"stackguard": "x"}}',
     "composer.json: extra.stackguard: expected an object, got str"),
    ('{"require": {"php": "^7.4"}, "extra": {"stackguard": {"mariadb": 10.5}}}',
     "composer.json: extra.stackguard.mariadb: expected a constraint text, got 10.5"),
], ids=["trailing-comma", "unterminated", "empty", "latin1", "array", "require-list", "require-text",
        "no-require", "no-php", "bad-php", "empty-php", "ruby-operator", "several-bad", "bad-name",
        "extra-list", "stackguard-text", "mariadb-number"])
def test_bad_composer_json(tmp_path, form, content, expected):
    path = release(tmp_path, content, form=form)
    text = _error(path, facts=F74)
    assert text.startswith(f"release {path}: ")
    assert expected in text


@pytest.mark.parametrize(("members", "problem"), [
    ([{"name": "../evil.php", "data": "<?php"}], "member '../evil.php' is a path with '..'"),
    ([{"name": "public/../../evil.php", "data": "<?php"}], "member 'public/../../evil.php' is a path with '..'"),
    ([{"name": "/etc/cron.d/evil", "data": "* * * * * root id"}], "member '/etc/cron.d/evil' is an absolute path"),
    ([{"name": "public/passwd", "type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}],
     "member 'public/passwd' is a link to the absolute path /etc/passwd"),
    ([{"name": "public/up", "type": tarfile.SYMTYPE, "linkname": "../../etc"}],
     "member 'public/up' is a link to ../../etc, outside the release"),
    ([{"name": "hard", "type": tarfile.LNKTYPE, "linkname": "../outside"}],
     "member 'hard' is a link to ../outside, outside the release"),
    ([{"name": "dev/null", "type": tarfile.CHRTYPE}], "member 'dev/null' is a device file or FIFO"),
], ids=["dotdot", "nested-dotdot", "absolute", "symlink-absolute", "symlink-up", "hardlink-up", "device"])
def test_unsafe_tarball_is_refused(tmp_path, members, problem):
    path = raw_tarball(tmp_path / "evil-1.0.0.tar.gz", [{"name": "composer.json", "data": APP_COMPOSER}, *members])
    assert _error(path, facts=F74) == f"release {path}: {problem}; refusing the tarball"


def test_links_inside_the_release_are_fine(tmp_path):
    path = raw_tarball(tmp_path / "ok-1.0.0.tar.gz", [
        {"name": "composer.json", "data": APP_COMPOSER},
        {"name": "public/current.css", "type": tarfile.SYMTYPE, "linkname": "assets/app.css"},
        {"name": "public/assets/app.css", "data": "body {}"},
    ])
    assert run(path, facts=F74)["compatible"]


def test_composer_json_as_link_in_tarball(tmp_path):
    path = raw_tarball(tmp_path / "ln-1.0.0.tar.gz", [
        {"name": "real.json", "data": APP_COMPOSER},
        {"name": "composer.json", "type": tarfile.SYMTYPE, "linkname": "real.json"},
    ])
    assert _error(path, facts=F74) == f"release {path}: composer.json is not a regular file"


@pytest.mark.parametrize(("content", "expected"), [
    ("{not json",
     "release.json is not valid JSON: Expecting property name enclosed in double quotes at line 1, column 2"),
    ('["1.0.0"]', "release.json: expected a JSON object"),
    ('{"version": 2}', "release.json: version must be a text, got 2"),
])
def test_bad_release_json(tmp_path, content, expected):
    path = raw_tarball(tmp_path / "x-1.0.0.tar.gz", [{"name": "composer.json", "data": APP_COMPOSER},
                                                      {"name": "release.json", "data": content}])
    assert _error(path, facts=F74) == f"release {path}: {expected}"


def test_target_must_be_facts_or_manifest(tmp_path):
    path = release(tmp_path, composer())
    assert "neither was given" in _error(path)
    assert _error(path, facts=F74, manifest=manifest()) == "give the target as facts or manifest, not both"


@pytest.mark.parametrize(("target", "expected"), [
    ({"facts": ["php"]}, "facts: expected the stack_facts module's result (a mapping), got list"),
    ({"facts": {"changed": False, "stack_facts": {}}},
     "facts: no php key (expected the stack_facts module's result"),
    ({"facts": {"php": "7.4.33"}}, "facts.php: expected a mapping with version and extensions, or null"),
    ({"facts": {"php": {"version": "7.4.33"}}}, "facts.php.extensions: expected a list of extension names"),
    ({"facts": {"php": {"version": "seven", "extensions": []}}},
     "facts.php.version: 'seven' is not a version such as \"7.4.33\""),
    ({"facts": {"php": {"version": 7.4, "extensions": []}}}, "facts.php.version: expected a version text"),
    ({"facts": {"php": {"version": "7.4.33", "extensions": []}, "mariadb": "10.5"}},
     "facts.mariadb: expected a mapping with version, or null"),
    ({"facts": {"php": {"version": "7.4.33", "extensions": []}, "mariadb": {"version": "MariaDB"}}},
     "facts.mariadb.version: 'MariaDB' is not a version such as \"10.5.29\""),
    ({"manifest": "php74-apache24"}, "manifest: expected a stack manifest (a mapping), got str"),
    ({"manifest": {"name": "x"}}, "manifest.runtime: missing or not a mapping"),
    ({"manifest": {"runtime": {"php": "7.4.33"}}}, "manifest.runtime.mariadb: expected a version text"),
    ({"manifest": {"runtime": {"php": "7.4.33", "mariadb": "10.5.29"}}}, "manifest.php: missing or not a mapping"),
    ({"manifest": {"runtime": {"php": "7.4.33", "mariadb": "10.5.29"}, "php": {"extensions": "intl"}}},
     "manifest.php.extensions: expected a list of extension names"),
])
def test_bad_target(tmp_path, target, expected):
    assert expected in _error(release(tmp_path, composer()), **target)


def test_module_is_standard_library_only():
    source = Path(release_compat.__file__).read_text(encoding="utf-8")
    imports = {line.split()[1].split(".")[0] for line in source.splitlines()
               if line.startswith(("import ", "from "))}
    assert imports <= {"__future__", "json", "os", "posixpath", "re", "tarfile", "zlib", "ansible"}
    assert "from ansible.module_utils.php_constraint import satisfies" in source
