"""Stack manifests: load, validate and check against stacks.lock.

A manifest (stacks/<name>.yml) describes one runtime stack at one revision. Released revisions are
immutable: stacks.lock records each revision's sha256, and a manifest whose digest differs from its
recorded one was edited in place and is refused. Every error names the file and the field, because
an operator reads it before any host changes.

Shared by the stack_manifest lookup (controller), tools/stack_lock.py and the unit tests.
"""
import hashlib
import os
import re

from ansible.module_utils.debian_version import parse as parse_debian_version

GROUPS = ("web", "db", "lb")
NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class ManifestError(ValueError):
    """A manifest, or its lock entry, that cannot be used. The message is for the operator."""


def _string(value):
    return isinstance(value, str) and value.strip() != ""


def _string_list(value):
    return isinstance(value, list) and all(_string(item) for item in value)


def _scalar_map(value):
    return isinstance(value, dict) and all(
        _string(k) and isinstance(v, (str, int, float)) and not isinstance(v, bool)
        for k, v in value.items())


def _positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


# field -> (required, check, what the check expects). Nested mappings are their own schemas.
SCHEMA = {
    "name": (True, _string, "a stack name"),
    "revision": (True, _positive_int, "a whole number of at least 1"),
    "description": (False, _string, "a text"),
    "os": (True, {
        "distribution": (True, _string, "a text such as Debian"),
        "release": (True, _string, "a Debian codename such as bullseye"),
        "major_version": (True, _positive_int, "a whole number such as 11"),
    }, None),
    "runtime": (True, {
        "php": (True, _string, "a version text such as \"7.4.33\""),
        "apache": (True, _string, "a version text"),
        "mariadb": (True, _string, "a version text"),
        "haproxy": (True, _string, "a version text"),
    }, None),
    "packages": (True, "packages", None),
    "php": (True, {
        "version": (True, _string, "a PHP branch such as \"7.4\""),
        "extensions": (True, _string_list, "a list of extension names as `php -m` prints them"),
        "ini": (False, _scalar_map, "a mapping of php.ini settings to values"),
    }, None),
    "apache": (True, {
        "mpm": (True, _string, "an Apache MPM name such as prefork"),
        "modules": (True, _string_list, "a list of Apache module names"),
    }, None),
    "services": (True, "services", None),
}


def _check_mapping(data, schema, prefix, errors):
    if not isinstance(data, dict):
        where = prefix.rstrip(".") or "the document"
        errors.append(f"{where}: expected a mapping, got {type(data).__name__}")
        return
    for key in data:
        if key not in schema:
            allowed = ", ".join(sorted(schema))
            errors.append(f"{prefix}{key}: unknown field (allowed here: {allowed})")
    for key, (required, check, expected) in schema.items():
        field = f"{prefix}{key}"
        if key not in data:
            if required:
                errors.append(f"{field}: missing")
            continue
        value = data[key]
        if isinstance(check, dict):
            _check_mapping(value, check, field + ".", errors)
        elif check == "packages":
            _check_packages(value, field, errors)
        elif check == "services":
            _check_services(value, field, errors)
        elif not check(value):
            errors.append(f"{field}: expected {expected}, got {value!r}")


def _check_group_keys(value, field, errors):
    if not isinstance(value, dict) or not value:
        errors.append(f"{field}: expected a mapping of inventory groups ({', '.join(GROUPS)})")
        return False
    for group in value:
        if group not in GROUPS:
            errors.append(f"{field}.{group}: unknown inventory group (allowed: {', '.join(GROUPS)})")
    return True


def _check_packages(value, field, errors):
    if not _check_group_keys(value, field, errors):
        return
    first_pin = {}  # package -> (group, version): a host in two groups needs one version
    for group, packages in value.items():
        if not isinstance(packages, dict) or not packages:
            errors.append(f"{field}.{group}: expected a mapping of package name to exact version")
            continue
        for package, version in packages.items():
            where = f"{field}.{group}.{package}"
            if not isinstance(version, str):
                errors.append(f"{where}: expected an exact Debian version as a quoted text, "
                              f"got {version!r}")
                continue
            try:
                parse_debian_version(version)
            except ValueError as exc:
                errors.append(f"{where}: {exc}")
                continue
            other_group, other_version = first_pin.setdefault(package, (group, version))
            if other_version != version:
                errors.append(f"{where}: {version} differs from {field}.{other_group}.{package} "
                              f"= {other_version}; a package has one version in a stack")


def _check_services(value, field, errors):
    if not _check_group_keys(value, field, errors):
        return
    for group, services in value.items():
        if not _string_list(services):
            errors.append(f"{field}.{group}: expected a list of systemd service names")


def validate(data, path):
    """Raise ManifestError listing every problem of the manifest read from path."""
    errors = []
    _check_mapping(data, SCHEMA, "", errors)
    stem = os.path.splitext(os.path.basename(path))[0]
    if isinstance(data, dict) and _string(data.get("name")) and data["name"] != stem:
        errors.append(f"name: '{data['name']}' does not match the file name '{stem}'")
    if errors:
        raise ManifestError(f"{path}: invalid stack manifest:\n  " + "\n  ".join(errors))


def digest(raw_bytes):
    return "sha256:" + hashlib.sha256(raw_bytes).hexdigest()


def validate_lock(lock, path):
    """A lock maps stack name -> {revision: "sha256:<hex>"}."""
    if lock is None:
        return {}
    if not isinstance(lock, dict):
        raise ManifestError(f"{path}: expected a mapping of stack name to revisions")
    for name, revisions in lock.items():
        if not isinstance(revisions, dict):
            raise ManifestError(f"{path}: {name}: expected a mapping of revision to digest")
        for revision, recorded in revisions.items():
            if not _positive_int(revision) or not isinstance(recorded, str) \
                    or not DIGEST.match(recorded):
                raise ManifestError(f"{path}: {name}.{revision}: expected "
                                    f"<revision>: sha256:<64 hex digits>, got {recorded!r}")
    return lock


def check_locked(manifest, raw_bytes, lock, manifest_path, lock_path):
    """Refuse a revision that is not in the lock or whose content changed since it was locked."""
    name, revision = manifest["name"], manifest["revision"]
    recorded = (lock.get(name) or {}).get(revision)
    actual = digest(raw_bytes)
    if recorded is None:
        raise ManifestError(
            f"{manifest_path}: {name} revision {revision} is not in {lock_path}. "
            f"Record a new revision with `make stack-lock` in a reviewed commit.")
    if recorded != actual:
        raise ManifestError(
            f"{manifest_path}: {name} revision {revision} was released with digest {recorded} "
            f"but the file now has {actual}. Released revisions are immutable: restore the file "
            f"and put the change in a new revision (bump `revision`, then `make stack-lock`).")
    return actual


def check_requested(manifest, name, revision, manifest_path):
    """The inventory pins name@revision; the file must be exactly that revision."""
    if manifest["revision"] != revision:
        raise ManifestError(
            f"{manifest_path}: the inventory pins {name} revision {revision}, but the file holds "
            f"revision {manifest['revision']}. Pin the file's revision in the inventory, or check "
            f"out the commit that released revision {revision}.")


def manifest_path(stacks_dir, name):
    if not isinstance(name, str) or not NAME.match(name):
        raise ManifestError(f"stack name {name!r} is not valid (lower case letters, digits, '-')")
    path = os.path.join(stacks_dir, name + ".yml")
    if not os.path.isfile(path):
        known = sorted(f[:-4] for f in os.listdir(stacks_dir)
                       if f.endswith(".yml")) if os.path.isdir(stacks_dir) else []
        raise ManifestError(f"unknown stack '{name}': no {path} (known stacks: "
                            f"{', '.join(known) or 'none'})")
    return path


def read_yaml(path):
    # Only the controller reads manifests from disk; hosts get them as data.
    import yaml
    from ansible.module_utils.yaml_data import safe_load

    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        return raw, safe_load(raw)
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: not valid YAML: {exc}") from None


def load(stacks_dir, name, revision, lock_path=None):
    """Load stacks/<name>.yml, validate it, and check it against the lock.

    Returns the manifest with `digest` and `source` added.
    """
    if isinstance(revision, str) and revision.isdigit():
        revision = int(revision)
    if not _positive_int(revision):
        raise ManifestError(f"stack {name}: revision {revision!r} is not a whole number >= 1")
    path = manifest_path(stacks_dir, name)
    raw, data = read_yaml(path)
    validate(data, path)
    check_requested(data, name, revision, path)
    lock_path = lock_path or os.path.join(stacks_dir, "stacks.lock")
    if not os.path.isfile(lock_path):
        raise ManifestError(f"{lock_path}: missing; create it with `make stack-lock`")
    lock = validate_lock(read_yaml(lock_path)[1], lock_path)
    data = dict(data)
    data["digest"] = check_locked(data, raw, lock, path, lock_path)
    data["source"] = path
    return data
