"""What the deploy, rollback and environment scenarios share: release variants and observations."""
import importlib.util
import json
import os
import shutil

import testinfra
from stackguard_testing import REPO

APP_ROOT = "/srv/stackguard-app"


def _builder():
    spec = importlib.util.spec_from_file_location("build_release",
                                                  os.path.join(REPO, "tools", "build_release.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_variant(tmp_path, version, php=None, files=None, migrations=None):
    """A release of the reference app with changes: require.php, files replaced or added
    ({relative path: content}), migrations added ({name: sql}). Returns the -e JSON that deploys it."""
    source = tmp_path / f"app-{version}"
    shutil.copytree(os.path.join(REPO, "app"), source)
    if php:
        composer = json.loads((source / "composer.json").read_text())
        composer["require"]["php"] = php
        (source / "composer.json").write_text(json.dumps(composer, indent=2))
    for relative, content in {**(files or {}),
                              **{f"migrations/{n}": sql for n, sql in (migrations or {}).items()}}.items():
        (source / relative).parent.mkdir(parents=True, exist_ok=True)
        (source / relative).write_text(content)
    artifact, digest = _builder().build(str(source), "stackguard-app", version, str(tmp_path / "out"))
    return release_vars(version, artifact, digest)


def index_with(code):
    """The app's front controller with PHP code that runs first (after declare(strict_types=1))."""
    with open(os.path.join(REPO, "app", "public", "index.php"), encoding="utf-8") as handle:
        index = handle.read()
    marker = "declare(strict_types=1);\n"
    return index.replace(marker, marker + code + "\n", 1)


def release_vars(version, artifact, sha256):
    return json.dumps({"stackguard_app_release": {"version": version, "artifact": artifact,
                                                  "sha256": sha256}})


def host(name):
    return testinfra.get_host(f"ansible://{name}",
                              ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


def served(names=("web1", "web2")):
    """{web host: the release its `current` points at}."""
    return {n: os.path.basename(host(n).file(f"{APP_ROOT}/current").linked_to) for n in names}


def staged(name):
    return sorted(host(name).check_output("ls -1 %s/releases", APP_ROOT).split())


def release_state(name):
    return json.loads(host(name).check_output("cat /var/lib/stackguard/releases.json"))


def database_rows(db="db1"):
    """(usernames, message bodies) in the app database."""
    def column(sql):
        return set(host(db).check_output("mariadb -N -B stackguard -e %s", sql).splitlines())
    return column("SELECT username FROM users"), column("SELECT body FROM messages")
