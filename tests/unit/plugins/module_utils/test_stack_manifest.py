"""stack_manifest: schema validation, lock checks and digests of the stack manifests.

The real manifests in stacks/ are the starting point: every broken case is a copy of a real
manifest with one textual edit, loaded with PyYAML exactly as the controller loads it, so the
YAML typing traps (an unquoted ``2.4`` or ``Off``) are exercised, not simulated.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from ansible.module_utils.stack_manifest import (
    DIGEST, ManifestError, digest, load, validate, validate_lock)

REPO = Path(__file__).resolve().parents[4]
STACKS = REPO / "stacks"
MANIFESTS = sorted(STACKS.glob("*.yml"))
PHP74 = STACKS / "php74-apache24.yml"
LOCK = yaml.safe_load((STACKS / "stacks.lock").read_text(encoding="utf-8"))


KNOWN = ", ".join(p.stem for p in MANIFESTS)


def test_the_stacks_directory_holds_the_two_stacks():
    assert {"php74-apache24", "php82-apache24"} <= {p.stem for p in MANIFESTS}


# --- validate ----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_real_manifests_are_valid(path):
    data = yaml.safe_load(path.read_bytes())
    assert validate(data, str(path)) is None


def _broken_copy(tmp_path, old, new, source=PHP74):
    """Write source with `old` replaced once by `new` to tmp_path under the same name."""
    text = source.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"test table error: {old!r} must occur once in {source.name}"
    path = tmp_path / source.name
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


# (id, old text, new text, fragments the error must contain after the file path)
BROKEN = [
    ("missing-os.release", "  release: bullseye\n", "",
     ["os.release: missing"]),
    ("missing-top-level-services", "services:\n  web: [apache2]\n  db: [mariadb]\n  lb: [haproxy]\n", "",
     ["services: missing"]),
    ("missing-php.extensions", '  extensions: [mysqli, pdo_mysql, mbstring, intl, json, "Zend OPcache"]\n', "",
     ["php.extensions: missing"]),
    ("unknown-top-level-key", "os:\n", "owner: ops\nos:\n",
     ["owner: unknown field (allowed here: apache, description, name, os, packages, php, "
      "revision, runtime, services)"]),
    ("unknown-nested-key", "  release: bullseye\n", "  release: bullseye\n  codename: bullseye\n",
     ["os.codename: unknown field (allowed here: distribution, major_version, release)"]),
    ("unknown-nested-key-in-runtime", '  haproxy: "2.2.9"\n', '  haproxy: "2.2.9"\n  nginx: "1.18"\n',
     ["runtime.nginx: unknown field"]),
    ("revision-quoted-string", "revision: 1\n", 'revision: "1"\n',
     ["revision: expected a whole number of at least 1, got '1'"]),
    ("revision-zero", "revision: 1\n", "revision: 0\n",
     ["revision: expected a whole number of at least 1, got 0"]),
    ("revision-negative", "revision: 1\n", "revision: -3\n",
     ["revision: expected a whole number of at least 1, got -3"]),
    ("revision-bool", "revision: 1\n", "revision: yes\n",
     ["revision: expected a whole number of at least 1, got True"]),
    ("revision-float", "revision: 1\n", "revision: 1.0\n",
     ["revision: expected a whole number of at least 1, got 1.0"]),
    ("major-version-quoted", "  major_version: 11\n", '  major_version: "11"\n',
     ["os.major_version: expected a whole number such as 11, got '11'"]),
    ("runtime-php-unquoted-number", '  php: "7.4.33"\n', "  php: 7.4\n",
     ["runtime.php: expected a version text such as \"7.4.33\", got 7.4"]),
    ("os-release-empty", "  release: bullseye\n", '  release: " "\n',
     ["os.release: expected a Debian codename such as bullseye, got ' '"]),
    ("description-null", "description: >-\n  Debian 11 (bullseye), PHP 7.4 with Apache 2.4 and mod_php, "
     "MariaDB 10.5, HAProxy 2.2.\n  Versions are bullseye-security's final LTS builds, frozen since "
     "bullseye left LTS.\n", "description:\n",
     ["description: expected a text, got None"]),
    ("package-version-unquoted-float", '    haproxy: "2.2.9-2+deb11u7"\n', "    haproxy: 2.2\n",
     ["packages.lb.haproxy: expected an exact Debian version as a quoted text, got 2.2"]),
    ("package-version-unquoted-int", '    haproxy: "2.2.9-2+deb11u7"\n', "    haproxy: 2\n",
     ["packages.lb.haproxy: expected an exact Debian version as a quoted text, got 2"]),
    ("package-version-bad-character", '    apache2-utils: "2.4.67-1~deb11u3"\n',
     '    apache2-utils: "2.4.67_1~deb11u3"\n',
     ["packages.web.apache2-utils: invalid Debian version '2.4.67_1~deb11u3'"]),
    ("package-version-not-starting-with-digit", '    apache2-utils: "2.4.67-1~deb11u3"\n',
     '    apache2-utils: "v2.4.67-1~deb11u3"\n',
     ["packages.web.apache2-utils: invalid Debian version 'v2.4.67-1~deb11u3'"]),
    ("package-version-with-blank", '    apache2-utils: "2.4.67-1~deb11u3"\n',
     '    apache2-utils: "2.4.67 -1~deb11u3"\n',
     ["packages.web.apache2-utils: invalid Debian version '2.4.67 -1~deb11u3'"]),
    ("package-version-empty-epoch", '    haproxy: "2.2.9-2+deb11u7"\n', '    haproxy: ":2.2.9-2+deb11u7"\n',
     ["packages.lb.haproxy: invalid Debian version ':2.2.9-2+deb11u7'"]),
    ("packages-unknown-group", "  lb:\n    haproxy:", "  cache:\n    haproxy:",
     ["packages.cache: unknown inventory group (allowed: web, db, lb)"]),
    ("packages-group-empty", '  lb:\n    haproxy: "2.2.9-2+deb11u7"\n', "  lb: {}\n",
     ["packages.lb: expected a mapping of package name to exact version"]),
    ("packages-group-is-a-list", '  lb:\n    haproxy: "2.2.9-2+deb11u7"\n', "  lb: [haproxy]\n",
     ["packages.lb: expected a mapping of package name to exact version"]),
    ("services-unknown-group", "  lb: [haproxy]\n", "  cache: [haproxy]\n",
     ["services.cache: unknown inventory group (allowed: web, db, lb)"]),
    ("services-group-not-a-list", "  web: [apache2]\n", "  web: apache2\n",
     ["services.web: expected a list of systemd service names"]),
    ("php-extensions-not-a-list", '  extensions: [mysqli, pdo_mysql, mbstring, intl, json, "Zend OPcache"]\n',
     "  extensions: mysqli\n",
     ["php.extensions: expected a list of extension names as `php -m` prints them, got 'mysqli'"]),
    ("php-ini-unquoted-off-is-a-bool", '    expose_php: "Off"\n', "    expose_php: Off\n",
     ["php.ini: expected a mapping of php.ini settings to values"]),
    ("apache-modules-number-item", "  modules: [php7.4, headers]\n", "  modules: [7.4, headers]\n",
     ["apache.modules: expected a list of Apache module names, got [7.4, 'headers']"]),
    ("name-does-not-match-file", "name: php74-apache24\n", "name: php74-apache22\n",
     ["name: 'php74-apache22' does not match the file name 'php74-apache24'"]),
    ("name-missing", "name: php74-apache24\n", "",
     ["name: missing"]),
]


@pytest.mark.parametrize("old, new, fragments", [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_broken_copy_is_refused_naming_file_and_field(tmp_path, old, new, fragments):
    path = _broken_copy(tmp_path, old, new)
    with pytest.raises(ManifestError) as raised:
        validate(yaml.safe_load(path.read_bytes()), str(path))
    message = str(raised.value)
    assert message.startswith(f"{path}: invalid stack manifest:\n  ")
    for fragment in fragments:
        assert fragment in message


def test_every_problem_is_listed_at_once(tmp_path):
    text = PHP74.read_text(encoding="utf-8")
    text = text.replace("revision: 1\n", 'revision: "1"\n').replace("  release: bullseye\n", "")
    text = text.replace("  lb: [haproxy]\n", "  cache: [haproxy]\n")
    path = tmp_path / PHP74.name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ManifestError) as raised:
        validate(yaml.safe_load(text), str(path))
    lines = str(raised.value).splitlines()
    assert lines[0] == f"{path}: invalid stack manifest:"
    assert sorted(line.strip().split(":")[0] for line in lines[1:]) == [
        "os.release", "revision", "services.cache"]


@pytest.mark.parametrize("document, kind", [
    ("- name: php74-apache24\n- revision: 1\n", "list"),
    ("just a text\n", "str"),
    ("", "NoneType"),
], ids=["list", "scalar", "empty-file"])
def test_a_document_that_is_not_a_mapping_is_refused(tmp_path, document, kind):
    path = tmp_path / "php74-apache24.yml"
    path.write_text(document, encoding="utf-8")
    with pytest.raises(ManifestError) as raised:
        validate(yaml.safe_load(document), str(path))
    assert str(raised.value) == (
        f"{path}: invalid stack manifest:\n  the document: expected a mapping, got {kind}")


def test_a_section_that_is_not_a_mapping_is_named_without_trailing_dot(tmp_path):
    path = _broken_copy(tmp_path, "os:\n  distribution: Debian\n  release: bullseye\n  major_version: 11\n",
                        "os: bullseye\n")
    with pytest.raises(ManifestError) as raised:
        validate(yaml.safe_load(path.read_bytes()), str(path))
    message = str(raised.value)
    assert f"{path}: invalid stack manifest:" in message
    assert "\n  os: expected a mapping, got str" in message


# --- digest ------------------------------------------------------------------------------------

def test_digest_format_and_known_value():
    assert digest(b"") == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert DIGEST.match(digest(b"anything"))


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_digest_of_each_real_manifest_is_the_one_locked(path):
    raw = path.read_bytes()
    assert digest(raw) == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert LOCK[path.stem][yaml.safe_load(raw)["revision"]] == digest(raw)


def test_digest_sees_a_one_byte_change():
    raw = PHP74.read_bytes()
    assert digest(raw) != digest(raw + b"\n")
    assert digest(raw) != digest(raw.replace(b"\n", b"\r\n"))


# --- load --------------------------------------------------------------------------------------

@pytest.fixture
def stacks(tmp_path):
    """A private copy of stacks/ (manifests and lock)."""
    copy = tmp_path / "stacks"
    shutil.copytree(STACKS, copy)
    return copy


@pytest.mark.parametrize("name", ["php74-apache24", "php82-apache24"])
@pytest.mark.parametrize("revision", [1, "1"], ids=["int", "digit-string"])
def test_load_returns_the_manifest_with_digest_and_source(stacks, name, revision):
    manifest = load(str(stacks), name, revision)
    path = stacks / f"{name}.yml"
    expected = yaml.safe_load(path.read_bytes())
    assert manifest.pop("digest") == LOCK[name][1] == digest(path.read_bytes())
    assert manifest.pop("source") == str(path)
    assert manifest == expected


def test_load_with_an_explicit_lock_path(stacks, tmp_path):
    elsewhere = tmp_path / "elsewhere.lock"
    (stacks / "stacks.lock").rename(elsewhere)
    assert load(str(stacks), "php74-apache24", 1, lock_path=str(elsewhere))["revision"] == 1


def test_load_unknown_stack_lists_the_known_ones(stacks):
    with pytest.raises(ManifestError) as raised:
        load(str(stacks), "php99-nginx", 1)
    assert str(raised.value) == (
        f"unknown stack 'php99-nginx': no {stacks}/php99-nginx.yml "
        f"(known stacks: {KNOWN})")


def test_load_unknown_stack_in_a_missing_directory(tmp_path):
    with pytest.raises(ManifestError, match=r"unknown stack 'php74-apache24': .*\(known stacks: none\)"):
        load(str(tmp_path / "nowhere"), "php74-apache24", 1)


@pytest.mark.parametrize("name", ["../stacks/php74-apache24", "PHP74", "-php", "", None, "php 74"])
def test_load_refuses_a_stack_name_that_is_not_a_name(stacks, name):
    with pytest.raises(ManifestError) as raised:
        load(str(stacks), name, 1)
    assert str(raised.value) == f"stack name {name!r} is not valid (lower case letters, digits, '-')"


@pytest.mark.parametrize("revision", ["abc", "", "1.0", " 1", 0, -1, 1.0, 1.5, True, None, [1]],
                         ids=repr)
def test_load_refuses_a_revision_that_is_not_a_number(stacks, revision):
    with pytest.raises(ManifestError) as raised:
        load(str(stacks), "php74-apache24", revision)
    assert str(raised.value) == (
        f"stack php74-apache24: revision {revision!r} is not a whole number >= 1")


def test_load_refuses_a_file_holding_another_revision_than_pinned(stacks):
    path = stacks / "php74-apache24.yml"
    with pytest.raises(ManifestError) as raised:
        load(str(stacks), "php74-apache24", 2)
    assert str(raised.value) == (
        f"{path}: the inventory pins php74-apache24 revision 2, but the file holds revision 1. "
        f"Pin the file's revision in the inventory, or check out the commit that released revision 2.")


def test_load_refuses_when_the_lock_is_missing(stacks):
    (stacks / "stacks.lock").unlink()
    with pytest.raises(ManifestError) as raised:
        load(str(stacks), "php74-apache24", 1)
    assert str(raised.value) == f"{stacks}/stacks.lock: missing; create it with `make stack-lock`"


def test_load_refuses_a_revision_missing_from_the_lock(stacks):
    path = stacks / "php74-apache24.yml"
    path.write_text(path.read_text().replace("revision: 1\n", "revision: 2\n"))
    with pytest.raises(ManifestError) as raised:
        load(str(stacks), "php74-apache24", 2)
    assert str(raised.value) == (
        f"{path}: php74-apache24 revision 2 is not in {stacks}/stacks.lock. "
        f"Record a new revision with `make stack-lock` in a reviewed commit.")


def test_load_refuses_an_empty_lock_as_not_recording_the_revision(stacks):
    (stacks / "stacks.lock").write_text("---\n# nothing released yet\n")
    with pytest.raises(ManifestError, match=r"revision 1 is not in .*stacks\.lock\. Record a new "
                                            r"revision with `make stack-lock`"):
        load(str(stacks), "php74-apache24", 1)


@pytest.mark.parametrize("edit", [
    lambda text: text.replace("  mpm: prefork\n", "  mpm: event\n"),
    lambda text: text + "# just a comment\n",
    lambda text: text.replace("\n", "\r\n"),
], ids=["value-changed", "comment-added", "line-endings"])
def test_load_refuses_a_manifest_edited_in_place(stacks, edit):
    path = stacks / "php74-apache24.yml"
    path.write_bytes(edit(path.read_text()).encode())
    now = digest(path.read_bytes())
    with pytest.raises(ManifestError) as raised:
        load(str(stacks), "php74-apache24", 1)
    assert str(raised.value) == (
        f"{path}: php74-apache24 revision 1 was released with digest {LOCK['php74-apache24'][1]} "
        f"but the file now has {now}. Released revisions are immutable: restore the file "
        f"and put the change in a new revision (bump `revision`, then `make stack-lock`).")


def test_load_validates_before_checking_the_lock(stacks):
    path = stacks / "php74-apache24.yml"
    path.write_text(path.read_text().replace("  release: bullseye\n", ""))
    with pytest.raises(ManifestError) as raised:
        load(str(stacks), "php74-apache24", 1)
    assert str(raised.value) == f"{path}: invalid stack manifest:\n  os.release: missing"


H = "0" * 64
MALFORMED_LOCKS = [
    ("a-list", "- php74-apache24\n", "{lock}: expected a mapping of stack name to revisions"),
    ("stack-not-a-mapping", "php74-apache24: sha256:" + H + "\n",
     "{lock}: php74-apache24: expected a mapping of revision to digest"),
    ("digest-too-short", "php74-apache24:\n  1: sha256:abc\n",
     "{lock}: php74-apache24.1: expected <revision>: sha256:<64 hex digits>, got 'sha256:abc'"),
    ("digest-without-prefix", f"php74-apache24:\n  1: {'ab' * 32}\n",
     "{lock}: php74-apache24.1: expected <revision>: sha256:<64 hex digits>, got '" + "ab" * 32 + "'"),
    ("digest-upper-case", f"php74-apache24:\n  1: sha256:{'A' * 64}\n",
     "{lock}: php74-apache24.1: expected <revision>: sha256:<64 hex digits>, got 'sha256:" + "A" * 64 + "'"),
    ("revision-not-a-number", f"php74-apache24:\n  one: sha256:{H}\n",
     "{lock}: php74-apache24.one: expected <revision>: sha256:<64 hex digits>, got 'sha256:" + H + "'"),
    ("revision-zero", f"php74-apache24:\n  0: sha256:{H}\n",
     "{lock}: php74-apache24.0: expected <revision>: sha256:<64 hex digits>, got 'sha256:" + H + "'"),
]


@pytest.mark.parametrize("text, expected", [c[1:] for c in MALFORMED_LOCKS],
                         ids=[c[0] for c in MALFORMED_LOCKS])
def test_load_refuses_a_malformed_lock(stacks, text, expected):
    lock = stacks / "stacks.lock"
    lock.write_text(text)
    with pytest.raises(ManifestError) as raised:
        load(str(stacks), "php74-apache24", 1)
    assert str(raised.value) == expected.format(lock=lock)


def test_validate_lock_accepts_none_and_the_real_lock():
    assert validate_lock(None, "stacks.lock") == {}
    assert validate_lock(LOCK, "stacks.lock") is LOCK


@pytest.mark.parametrize("target", ["php74-apache24.yml", "stacks.lock"])
def test_load_refuses_invalid_yaml_naming_the_file(stacks, target):
    path = stacks / target
    path.write_text(path.read_text() + "broken: [unclosed\n")
    with pytest.raises(ManifestError) as raised:
        load(str(stacks), "php74-apache24", 1)
    message = str(raised.value)
    assert message.startswith(f"{path}: not valid YAML: ")
    assert "line" in message  # PyYAML's position of the problem is kept


def test_load_refuses_a_manifest_that_is_not_utf8(stacks):
    path = stacks / "php74-apache24.yml"
    path.write_bytes(path.read_bytes().replace(b"Debian 11", b"D\xe9bian 11"))
    with pytest.raises(ManifestError, match=rf"^{path}: not valid YAML: "):
        load(str(stacks), "php74-apache24", 1)

