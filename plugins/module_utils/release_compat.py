"""Check a release's platform requirements against a target stack, before any host changes.

Why this exists: a release states in its composer.json which PHP it runs on (``require.php``),
which PHP extensions it needs (``require.ext-*``) and, in ``extra.stackguard.mariadb``, which
MariaDB server versions its SQL needs. Deploying it where these do not hold is how production
broke; so a deploy refuses a release the host's stack cannot run, and a stack change refuses a
stack the deployed release does not support. Runs on the controller; standard library only (plus
the repo's ``php_constraint``), imported as ``ansible.module_utils.release_compat``.

The release is a tarball built by tools/build_release.py (``.tar.gz``; composer.json,
release.json and ``migrations/NNNN_name.sql`` at its root) or an unpacked release directory. A
tarball is only read, never extracted: its member list is checked (no absolute paths, no ``..``,
no links leading out of the release, no device files or FIFOs: such a tarball is refused as a
whole, because the deploy would unpack it later), then composer.json and release.json are read
in memory and the names under ``migrations/`` are listed.

What is read, and decided:

* ``require.php`` is mandatory: a release that does not state its PHP versions is refused, since
  catching a PHP mismatch is the point of the check.
* ``require.ext-<name>``: the extension must be loaded. Names match ``php -m`` case-insensitively
  with ``-``, ``_`` and blanks equivalent, and ``ext-zend-opcache``/``ext-opcache`` match
  ``Zend OPcache``. A constraint other than ``*`` is checked only where it is trivial: extensions
  bundled with PHP (``BUNDLED_EXTENSIONS``) report PHP's own version, so the constraint is checked
  against the target's PHP version, as Composer would. For any other extension (PECL: apcu,
  redis, ...) the target reports names, not versions: only its presence is checked, and the
  constraint is listed in ``ignored`` with that reason.
* ``extra.stackguard.mariadb``: a Composer constraint on the MariaDB server version, optional.
* ``hhvm`` is unmet on any target (they run PHP). ``lib-*``, ``php-64bit``/``-ipv6``/``-zts``/
  ``-debug``, ``composer``/``composer-plugin-api``/``composer-runtime-api`` and Composer packages
  (``vendor/name``) are not checked and are listed in ``ignored`` with the reason. A key that is
  none of these is not a valid Composer package name and is refused. ``require-dev``,
  ``conflict``, ``provide`` and ``replace`` are not read.
* Every checked constraint must be one Composer accepts; the error names each bad one.
* Migrations: every entry of ``migrations/`` must be a file named ``NNNN_lower_case_name.sql``
  with a number of at least 1, numbers unique (as the release_migrations lookup and the
  sql_migrations module require). ``schema_version`` is the highest number, 0 without any; a
  release.json ``schema_version`` that differs from it is refused (the app would wait for a
  schema its migrations never reach).
* The release's version: release.json's ``version``, else the caller's ``release_version``, else
  the file name (the ``VERSION`` of ``<name>-<VERSION>.tar.gz`` when it has that shape).

The target is either a host's facts (the stack_facts module's result: ``php`` is ``null`` when PHP
is not installed, and then every PHP requirement is unmet; ``mariadb`` is ``null`` or absent when
the host runs no MariaDB, and then a MariaDB requirement is unmet too: check it against the
database host's facts; a MariaDB whose version stack_facts could not read meets no MariaDB
requirement) or a stack manifest (``runtime.php``, ``runtime.mariadb``,
``php.extensions``). A manifest lists the extensions its stack adds; the ones PHP cannot be built
without (``ALWAYS_LOADED``) count as loaded too, anything else must be listed. Messages say
"<label> runs" for facts and "<label> pins" for a manifest.

Bad input raises ``ReleaseError`` with a message naming the input; an unmet requirement is not an
error but part of the result (``compatible``, ``unmet``, ``msg``).
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import tarfile
import zlib

from ansible.module_utils.php_constraint import satisfies

MIGRATION = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_RELEASE_FILE_NAME = re.compile(r"^.+?-(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?)$")
_MATCH_ALL = re.compile(r"v?[xX*](?:\.[xX*]){0,3}")
_COMPOSER_PACKAGE = re.compile(r"^[a-z0-9]([_.-]?[a-z0-9]+)*/[a-z0-9](([_.]|-{1,2})?[a-z0-9]+)*$")
_PLATFORM_EXTENSION = re.compile(r"^ext-[a-z0-9]([ _.-]?[a-z0-9]+)*$")
_PLATFORM_LIBRARY = re.compile(r"^lib-[a-z0-9]([_.-]?[a-z0-9]+)*$")
_MAX_JSON_BYTES = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"

# Extensions shipped in php-src whose version (phpversion('<ext>'), what Composer's platform
# repository reads) is PHP_VERSION on PHP 7.4 and later. zip, oci8 and mysqlnd are left out: they
# carry versions of their own or in another form.
BUNDLED_EXTENSIONS = frozenset("""
    bcmath bz2 calendar core ctype curl date dba dom enchant exif ffi fileinfo filter ftp gd gettext
    gmp hash iconv imap intl json ldap libxml mbstring mysqli odbc opcache openssl pcntl pcre pdo
    pdo_dblib pdo_firebird pdo_mysql pdo_odbc pdo_pgsql pdo_sqlite pgsql phar posix pspell random
    readline reflection session shmop simplexml snmp soap sockets sodium spl sqlite3 standard
    sysvmsg sysvsem sysvshm tidy tokenizer xml xmlreader xmlrpc xmlwriter xsl zlib
""".split())

# Extensions every PHP build has, since the PHP version in the key (they cannot be disabled).
# Counted as loaded for a manifest target, whose php.extensions lists only what the stack adds.
ALWAYS_LOADED = {
    (7, 0): ("core", "date", "pcre", "reflection", "spl", "standard"),
    (7, 4): ("hash",),
    (8, 0): ("json",),
    (8, 2): ("random",),
}

_EXTENSION_ALIASES = {"zend_opcache": "opcache"}

_IGNORED_REASONS = {
    "lib": "a system library's version: the target does not report it",
    "php-variant": "a PHP build variant (64-bit, IPv6, ZTS, debug): the target does not report it",
    "composer": "Composer's own API, needed when installing dependencies, not by the runtime",
    "package": "a Composer package, shipped with the release: not a platform requirement",
    "extension-version": ("version not checked: the target reports extension names, not versions, "
                          "and this extension does not carry PHP's version; only its presence is"),
}


class ReleaseError(ValueError):
    """Input that cannot be checked (release, facts or manifest). The message is for the operator."""


def extension_key(name):
    """The comparable form of an extension name: ``ext-Zend-OPcache`` and ``Zend OPcache`` alike."""
    key = re.sub(r"[\s-]+", "_", name.strip().lower())
    if key.startswith("ext_"):
        key = key[4:]
    return _EXTENSION_ALIASES.get(key, key)


def _check_constraint(constraint):
    """Composer's error for a constraint it would reject, or None."""
    try:
        satisfies("0", constraint)
    except ValueError as error:
        return str(error)
    return None


# --- reading a release --------------------------------------------------------------------------


class _Directory:
    def __init__(self, path):
        self.path = path

    def read(self, name):
        """The bytes of a regular file at the release root, or None when absent."""
        full = os.path.join(self.path, name)
        if not os.path.lexists(full):
            return None
        if not os.path.isfile(full):
            raise ReleaseError(f"release {self.path}: {name} is not a regular file")
        size = os.path.getsize(full)
        if size > _MAX_JSON_BYTES:
            raise ReleaseError(f"release {self.path}: {name} is {size} bytes, more than {_MAX_JSON_BYTES}")
        try:
            with open(full, "rb") as handle:
                return handle.read()
        except OSError as error:
            raise ReleaseError(f"release {self.path}: {name} cannot be read: {error.strerror}") from None

    def migrations(self):
        """{entry name: whether it is a regular file} of migrations/."""
        directory = os.path.join(self.path, "migrations")
        if not os.path.isdir(directory):
            return {}
        try:
            names = os.listdir(directory)
        except OSError as error:
            raise ReleaseError(f"release {self.path}: migrations/ cannot be read: {error.strerror}") from None
        return {name: os.path.isfile(os.path.join(directory, name)) for name in names}

    def nested(self, name):
        return None


def member_name(member):
    """A tarball member's path inside the release ("" for the release's root itself)."""
    name = member.name
    while name.startswith("./"):
        name = name[2:]
    name = name.rstrip("/")
    return "" if name == "." else name


def member_problem(member, name):
    """Why a tarball member is unsafe to unpack, or None."""
    parts = name.split("/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", name):
        return "an absolute path"
    if ".." in parts:
        return "a path with '..'"
    if member.issym() or member.islnk():
        target = member.linkname
        if target.startswith("/"):
            return f"a link to the absolute path {target}"
        base = posixpath.dirname(name) if member.issym() else ""
        resolved = posixpath.normpath(posixpath.join(base, target))
        if resolved == ".." or resolved.startswith("../"):
            return f"a link to {target}, outside the release"
    if member.ischr() or member.isblk() or member.isfifo():
        return "a device file or FIFO"
    return None


class _Tarball:
    def __init__(self, path):
        self.path = path
        try:
            with open(path, "rb") as handle:
                magic = handle.read(2)
        except OSError as error:
            raise ReleaseError(f"release {path} cannot be read: {error.strerror}") from None
        if magic != _GZIP_MAGIC:
            raise ReleaseError(f"release {path} is not a gzip file (expected a .tar.gz release tarball)")
        self.members = {}
        self.tar = None
        try:
            self.tar = tarfile.open(path, mode="r:gz")
            for member in self.tar.getmembers():
                name = member_name(member)
                if not name:
                    continue
                problem = member_problem(member, name)
                if problem:
                    raise ReleaseError(
                        f"release {path}: member {member.name!r} is {problem}; refusing the tarball")
                self.members[name] = member
        except ReleaseError:
            self.close()
            raise
        except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
            self.close()
            raise ReleaseError(f"release {path} is not a readable tar.gz archive: {error}") from None

    def close(self):
        if self.tar is not None:
            self.tar.close()
            self.tar = None

    def read(self, name):
        member = self.members.get(name)
        if member is None:
            if any(other.startswith(name + "/") for other in self.members):
                raise ReleaseError(f"release {self.path}: {name} is not a regular file")
            return None
        if not member.isfile():
            raise ReleaseError(f"release {self.path}: {name} is not a regular file")
        if member.size > _MAX_JSON_BYTES:
            raise ReleaseError(
                f"release {self.path}: {name} is {member.size} bytes, more than {_MAX_JSON_BYTES}")
        try:
            handle = self.tar.extractfile(member)
            return handle.read()
        except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
            raise ReleaseError(f"release {self.path}: {name} cannot be read: {error}") from None

    def migrations(self):
        entries = {}
        for name, member in self.members.items():
            if not name.startswith("migrations/"):
                continue
            rest = name[len("migrations/"):]
            entry, _, deeper = rest.partition("/")
            regular = not deeper and member.isfile()
            entries[entry] = entries.get(entry, False) or regular
        return entries

    def nested(self, name):
        """A path such as app-1.0/composer.json, when the release has one level too many."""
        for other in sorted(self.members):
            if other.count("/") == 1 and other.endswith("/" + name):
                return other
        return None


def _load_json(source, release, name, required):
    data = source.read(name)
    if data is None:
        if not required:
            return None
        hint = source.nested(name)
        where = "the tarball root" if isinstance(source, _Tarball) else "its root"
        extra = f" (found {hint}: the release must hold it at its root)" if hint else ""
        raise ReleaseError(f"release {release}: no {name} at {where}{extra}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ReleaseError(f"release {release}: {name} is not UTF-8 text (byte {error.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ReleaseError(f"release {release}: {name} is not valid JSON: {error.msg} at line "
                           f"{error.lineno}, column {error.colno}") from None


def _migrations(source, release):
    numbers = {}
    entries = source.migrations()
    for name in sorted(entries):
        match = MIGRATION.match(name)
        if not match:
            raise ReleaseError(f"release {release}: migrations/{name}: a migration's name must be "
                               "NNNN_lower_case_name.sql")
        if not entries[name]:
            raise ReleaseError(f"release {release}: migrations/{name} is not a regular file")
        number = int(match.group(1))
        if number < 1:
            raise ReleaseError(f"release {release}: migrations/{name}: numbers start at 0001")
        if number in numbers:
            raise ReleaseError(f"release {release}: migrations/{numbers[number]} and migrations/{name} "
                               f"have the same number {number}")
        numbers[number] = name
    return [numbers[number] for number in sorted(numbers)], max(numbers, default=0)


def _classify(name):
    if name == "php":
        return "php"
    if name == "hhvm":
        return "hhvm"
    if _PLATFORM_EXTENSION.match(name):
        return "ext"
    if _PLATFORM_LIBRARY.match(name):
        return "lib"
    if name in ("php-64bit", "php-ipv6", "php-zts", "php-debug"):
        return "php-variant"
    if name in ("composer", "composer-plugin-api", "composer-runtime-api"):
        return "composer"
    if _COMPOSER_PACKAGE.match(name):
        return "package"
    return None


def _requirements(composer, release):
    where = f"release {release}: composer.json"
    if not isinstance(composer, dict):
        raise ReleaseError(f"{where}: expected a JSON object, got {type(composer).__name__}")
    require = composer.get("require", {})
    if not isinstance(require, dict):
        raise ReleaseError(f"{where}: require must be an object of package name to constraint, "
                           f"got {type(require).__name__}")
    php, hhvm, extensions, ignored, errors = None, None, [], [], []
    for key, constraint in require.items():
        name = key.strip().lower()
        if not isinstance(constraint, str):
            errors.append(f"require.{key}: expected a constraint text, got {constraint!r}")
            continue
        kind = _classify(name)
        if kind is None:
            errors.append(f"require.{key}: not a platform package (php, ext-*, lib-*) nor a Composer "
                          "package name (vendor/name)")
        elif kind in ("lib", "php-variant", "composer", "package"):
            ignored.append({"requirement": name, "constraint": constraint, "reason": _IGNORED_REASONS[kind]})
        else:
            problem = _check_constraint(constraint)
            if problem:
                errors.append(f"require.{key}: {problem}")
            elif kind == "php":
                php = constraint
            elif kind == "hhvm":
                hhvm = constraint
            else:
                extensions.append({"requirement": name, "constraint": constraint})
                trivial = _MATCH_ALL.fullmatch(constraint.strip())
                if not trivial and extension_key(name) not in BUNDLED_EXTENSIONS:
                    ignored.append({"requirement": name, "constraint": constraint,
                                    "reason": _IGNORED_REASONS["extension-version"]})
    mariadb = None
    extra = composer.get("extra", {})
    if not isinstance(extra, dict):
        errors.append(f"extra: expected an object, got {type(extra).__name__}")
        extra = {}
    stackguard = extra.get("stackguard", {})
    if not isinstance(stackguard, dict):
        errors.append(f"extra.stackguard: expected an object, got {type(stackguard).__name__}")
        stackguard = {}
    if "mariadb" in stackguard:
        mariadb = stackguard["mariadb"]
        if not isinstance(mariadb, str):
            errors.append(f"extra.stackguard.mariadb: expected a constraint text, got {mariadb!r}")
            mariadb = None
        else:
            problem = _check_constraint(mariadb)
            if problem:
                errors.append(f"extra.stackguard.mariadb: {problem}")
    if errors:
        raise ReleaseError(f"{where}: " + "; ".join(errors))
    if php is None:
        raise ReleaseError(f"{where} has no require.php: a release must state the PHP versions it "
                           "runs on (e.g. \"php\": \"^7.4 || ^8.2\")")
    return {"php": php, "extensions": extensions, "mariadb": mariadb, "hhvm": hhvm}, ignored


def _name_version(path):
    base = os.path.basename(os.path.normpath(path))
    for suffix in (".tar.gz", ".tgz"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    match = _RELEASE_FILE_NAME.match(base)
    return match.group(1) if match else base


def read_release(path, release_version=None):
    """The release's version, requirements, migrations and ignored requirements.

    Returns ``{version, source, requires: {php, extensions: [{requirement, constraint}], mariadb},
    schema_version, migrations: [file names], ignored: [{requirement, constraint, reason}]}``.
    """
    if not isinstance(path, str) or not path:
        raise ReleaseError(f"release: expected the path of a release tarball or directory, got {path!r}")
    if os.path.isdir(path):
        source = _Directory(path)
    elif os.path.isfile(path):
        source = _Tarball(path)
    elif os.path.exists(path):
        raise ReleaseError(f"release {path}: not a regular file nor a directory")
    else:
        raise ReleaseError(f"release {path}: no such file or directory")
    try:
        composer = _load_json(source, path, "composer.json", required=True)
        requires, ignored = _requirements(composer, path)
        metadata = _load_json(source, path, "release.json", required=False)
        migrations, schema_version = _migrations(source, path)
    finally:
        if isinstance(source, _Tarball):
            source.close()
    version = None
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise ReleaseError(f"release {path}: release.json: expected a JSON object")
        version = metadata.get("version")
        if version is not None and (not isinstance(version, str) or not version.strip()):
            raise ReleaseError(f"release {path}: release.json: version must be a text, got {version!r}")
        recorded = metadata.get("schema_version")
        if recorded is not None and (isinstance(recorded, bool) or recorded != schema_version):
            raise ReleaseError(f"release {path}: release.json says schema_version {recorded!r} but the "
                               f"highest migration is {schema_version}")
    if not version:
        version = release_version or _name_version(path)
    hhvm = requires.pop("hhvm")
    release = {
        "version": version,
        "source": path,
        "requires": requires,
        "schema_version": schema_version,
        "migrations": migrations,
        "ignored": ignored,
    }
    if hhvm is not None:
        release["requires"]["hhvm"] = hhvm
    return release


# --- targets ------------------------------------------------------------------------------------


def _version_text(value, field, example="7.4.33"):
    if not isinstance(value, str) or not value.strip():
        raise ReleaseError(f"{field}: expected a version text such as \"{example}\", got {value!r}")
    try:
        satisfies(value, "*")
    except ValueError:
        raise ReleaseError(f"{field}: {value!r} is not a version such as \"{example}\"") from None
    return value.strip()


def _mariadb_version(value, field):
    """A MariaDB version as a host reports it: 10.5.29, 10.5.29-MariaDB-0+deb11u1, 1:10.5.29-0+deb11u1."""
    if isinstance(value, str):
        value = re.sub(r"^\s*\d+:", "", value)  # a Debian epoch
    return _version_text(value, field, example="10.5.29")


def _names(value, field):
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ReleaseError(f"{field}: expected a list of extension names as `php -m` prints them, "
                           f"got {value!r}")
    return list(value)


def _always_loaded(php_version):
    numbers = [int(part) for part in re.findall(r"\d+", php_version)[:2]] + [0, 0]
    branch = tuple(numbers[:2])
    return {name for since, names in ALWAYS_LOADED.items() if branch >= since for name in names}


def target_from_facts(facts, label):
    """The target a host runs, from the stack_facts module's result."""
    if not isinstance(facts, dict):
        raise ReleaseError(f"facts: expected the stack_facts module's result (a mapping), got "
                           f"{type(facts).__name__}")
    if "php" not in facts:
        raise ReleaseError("facts: no php key (expected the stack_facts module's result: php, mariadb, "
                           "apache, packages, ...)")
    php, extensions = facts["php"], []
    if php is not None:
        if not isinstance(php, dict):
            raise ReleaseError(f"facts.php: expected a mapping with version and extensions, or null, got {php!r}")
        extensions = _names(php.get("extensions"), "facts.php.extensions")
        php = _version_text(php.get("version"), "facts.php.version")
    mariadb = facts.get("mariadb")
    installed = mariadb is not None
    if installed:
        if not isinstance(mariadb, dict):
            raise ReleaseError(f"facts.mariadb: expected a mapping with version, or null, got {mariadb!r}")
        # stack_facts reports {version: null} when it found MariaDB but could not read its version.
        if mariadb.get("version") is not None:
            mariadb = _mariadb_version(mariadb.get("version"), "facts.mariadb.version")
        else:
            mariadb = None
    return {"kind": "facts", "label": label, "verb": "runs", "stack": None, "php": php,
            "extensions": extensions, "loaded": {extension_key(name) for name in extensions},
            "mariadb": mariadb, "mariadb_installed": installed}


def target_from_manifest(manifest, label):
    """The target a stack manifest pins (stacks/<name>.yml, as the stack_manifest lookup returns it)."""
    if not isinstance(manifest, dict):
        raise ReleaseError(f"manifest: expected a stack manifest (a mapping), got {type(manifest).__name__}")
    runtime = manifest.get("runtime")
    if not isinstance(runtime, dict):
        raise ReleaseError("manifest.runtime: missing or not a mapping (expected a stack manifest as "
                           "in stacks/*.yml)")
    php = _version_text(runtime.get("php"), "manifest.runtime.php")
    mariadb = _mariadb_version(runtime.get("mariadb"), "manifest.runtime.mariadb")
    php_section = manifest.get("php")
    if not isinstance(php_section, dict):
        raise ReleaseError("manifest.php: missing or not a mapping (expected php.extensions)")
    extensions = _names(php_section.get("extensions"), "manifest.php.extensions")
    stack = manifest.get("name")
    if stack is not None and manifest.get("revision") is not None:
        stack = f"{stack}@{manifest['revision']}"
    if not label:
        label = f"stack {stack}" if stack else "the stack"
    loaded = {extension_key(name) for name in extensions} | _always_loaded(php)
    return {"kind": "manifest", "label": label, "verb": "pins", "stack": stack, "php": php,
            "extensions": extensions, "loaded": loaded, "mariadb": mariadb, "mariadb_installed": True}


# --- the check ----------------------------------------------------------------------------------


def _unmet(requirement, wanted, actual, text):
    return {"requirement": requirement, "wanted": wanted, "actual": actual, "text": text}


def check(release, target):
    """The unmet requirements of ``release`` (read_release's result) on ``target``, in order."""
    label, verb, php = target["label"], target["verb"], target["php"]
    requires = release["requires"]
    unmet = []
    if php is None:
        unmet.append(_unmet("php", requires["php"], "not installed",
                            f"requires php {requires['php']}, php is not installed"))
    elif not satisfies(php, requires["php"]):
        unmet.append(_unmet("php", requires["php"], php,
                            f"requires php {requires['php']}, {label} {verb} php {php}"))
    for extension in requires["extensions"]:
        name, constraint = extension["requirement"], extension["constraint"]
        trivial = _MATCH_ALL.fullmatch(constraint.strip())
        shown = name if trivial else f"{name} {constraint}"
        key = extension_key(name)
        if php is None:
            unmet.append(_unmet(name, constraint, "not installed", f"requires {shown}, php is not installed"))
        elif key not in target["loaded"]:
            unmet.append(_unmet(name, constraint, "not loaded", f"requires {shown}, not loaded"))
        elif not trivial and key in BUNDLED_EXTENSIONS and not satisfies(php, constraint):
            unmet.append(_unmet(name, constraint, php,
                                f"requires {shown}, {label} {verb} {name} {php} (PHP's version)"))
    if requires["mariadb"] is not None:
        wanted, actual = requires["mariadb"], target["mariadb"]
        if not target["mariadb_installed"]:
            unmet.append(_unmet("mariadb", wanted, "not installed",
                                f"requires mariadb {wanted}, mariadb is not installed"))
        elif actual is None:
            unmet.append(_unmet("mariadb", wanted, "unknown",
                                f"requires mariadb {wanted}, {label} {verb} mariadb of an unknown version"))
        elif not satisfies(actual, wanted):
            unmet.append(_unmet("mariadb", wanted, actual,
                                f"requires mariadb {wanted}, {label} {verb} mariadb {actual}"))
    if requires.get("hhvm") is not None:
        unmet.append(_unmet("hhvm", requires["hhvm"], "not installed",
                            f"requires hhvm {requires['hhvm']}, {label} {verb} PHP, not HHVM"))
    return unmet


def _target_name(target):
    """``production (stack php74-apache24@1)``; the stack is left out when the label names it."""
    stack = target.get("stack")
    if not stack or stack in target["label"]:
        return target["label"]
    return f"{target['label']} (stack {stack})"


def message(release, target, unmet):
    """The one-line refusal, listing every unmet requirement."""
    return (f"release {release['version']} is not compatible with {_target_name(target)}: "
            + "; ".join(item["text"] for item in unmet))


def run(release_path, facts=None, manifest=None, label=None, release_version=None):
    """Read the release, check it against facts or a manifest; bad input raises ReleaseError.

    Returns ``{compatible, release, unmet: [{requirement, wanted, actual}], target, msg}``; ``msg`` is
    the refusal when incompatible, a summary otherwise.
    """
    if facts is None and manifest is None:
        raise ReleaseError("give the target as facts (a host's stack_facts) or manifest (a stack "
                           "manifest): neither was given")
    if facts is not None and manifest is not None:
        raise ReleaseError("give the target as facts or manifest, not both")
    if label is not None and not isinstance(label, str):
        raise ReleaseError(f"label: expected a text, got {label!r}")
    if facts is not None:
        target = target_from_facts(facts, label or "the host")
    else:
        target = target_from_manifest(manifest, label)
    release = read_release(release_path, release_version)
    unmet = check(release, target)
    summary = {"kind": target["kind"], "label": target["label"], "stack": target["stack"],
               "php": target["php"], "mariadb": target["mariadb"]}
    if unmet:
        text = message(release, target, unmet)
    else:
        text = f"release {release['version']} is compatible with {_target_name(target)}"
    return {
        "compatible": not unmet,
        "release": release,
        "unmet": [{key: item[key] for key in ("requirement", "wanted", "actual")} for item in unmet],
        "target": summary,
        "msg": text,
    }
