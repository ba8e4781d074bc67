"""The runtime stack, database and app on each pinned stack, as the hosts really run them."""
import hashlib
import os
import re
import tempfile

import yaml
from stackguard_testing import REPO, http_json, pinned_packages, run_playbook, stack_manifest

APP_ROOT = "/srv/stackguard-app"


def test_every_pinned_package_is_installed_at_its_exact_version_and_held(host):
    for package, version in pinned_packages(host).items():
        out = host.check_output("dpkg-query -W -f '${Status} ${Version}' %s", package)
        assert out == f"hold ok installed {version}", package


def test_apt_mark_lists_every_pinned_package_as_held(host):
    held = set(host.check_output("apt-mark showhold").split())
    assert set(pinned_packages(host)) <= held


def test_an_upgrade_moves_no_pinned_package(host):
    # The host's apt lists offer newer builds of some pins (bookworm-security has newer PHP).
    simulated = host.check_output("LC_ALL=C apt-get -s -o Debug::NoLocking=1 dist-upgrade")
    moved = {line.split()[1] for line in simulated.splitlines() if line.startswith("Inst ")}
    assert not moved & set(pinned_packages(host)), moved


def test_apt_prefers_the_pinned_version(host):
    for package, version in pinned_packages(host).items():
        policy = host.check_output("LC_ALL=C apt-cache policy %s", package)
        assert re.search(r"Candidate: (\S+)", policy).group(1) == version, package


def test_the_stack_services_run_and_start_at_boot(host):
    for service in ("apache2", "mariadb"):
        assert host.service(service).is_running, service
        assert host.service(service).is_enabled, service


def test_php_is_the_pinned_runtime_with_its_extensions(host):
    manifest = stack_manifest(host)
    assert host.check_output("php -r 'echo PHP_VERSION;'") == manifest["runtime"]["php"]
    loaded = {line.strip().lower() for line in host.check_output("php -m").splitlines()}
    for extension in manifest["php"]["extensions"]:
        assert extension.lower() in loaded, extension


def test_opcache_sees_a_switched_release_at_once(host):
    settings = host.check_output(
        "php -r 'echo ini_get(\"opcache.validate_timestamps\"), \",\", "
        "ini_get(\"opcache.revalidate_freq\");'")
    assert settings == "1,0"


def test_apache_serves_the_app_on_the_pinned_php_with_the_database_reachable(host):
    manifest = stack_manifest(host)
    status, health = http_json(host, "http://127.0.0.1/healthz")
    assert status == 200, health
    assert health["status"] == "ok"
    assert health["release"] == "1.0.0"
    assert health["php"] == manifest["runtime"]["php"]
    assert health["db"]["reachable"] is True
    assert health["schema"]["current"] is True and health["schema"]["version"] == 2


def test_mariadb_is_the_pinned_version_with_a_durable_row_binlog(host):
    manifest = stack_manifest(host)
    row = host.check_output(
        "mariadb -N -B -e 'SELECT @@version, @@log_bin, @@binlog_format, @@sync_binlog, "
        "@@innodb_flush_log_at_trx_commit'").split("\t")
    assert row[0].startswith(manifest["runtime"]["mariadb"] + "-MariaDB")
    assert row[1:] == ["1", "ROW", "1", "1"]


def test_the_app_config_holding_the_password_is_not_world_readable(host):
    config = host.file(f"{APP_ROOT}/shared/config/app.ini")
    assert config.user == "root" and config.group == "www-data"
    assert config.mode == 0o640
    assert host.file(f"{APP_ROOT}/current").linked_to == f"{APP_ROOT}/releases/1.0.0"


def test_a_version_the_mirror_lacks_is_refused_before_the_host_changes(host):
    manifest = stack_manifest(host)
    name = manifest["name"]
    package = sorted(manifest["packages"]["web"])[0]
    before = host.check_output("dpkg-query -W -f '${Version}' %s", package)
    preferences = host.file("/etc/apt/preferences.d/stackguard-stack.pref").sha256sum
    with tempfile.TemporaryDirectory() as stacks:
        source = open(os.path.join(REPO, "stacks", name + ".yml"), encoding="utf-8").read()
        broken = re.sub(rf"(\n    {re.escape(package)}: )\"[^\"]+\"", r'\1"99.0-1"', source, count=1)
        with open(os.path.join(stacks, name + ".yml"), "w", encoding="utf-8") as handle:
            handle.write(broken)
        digest = "sha256:" + hashlib.sha256(broken.encode()).hexdigest()
        with open(os.path.join(stacks, "stacks.lock"), "w", encoding="utf-8") as handle:
            yaml.safe_dump({name: {manifest["revision"]: digest}}, handle)
        result = run_playbook("provision-stack.yml", host.backend.host,
                              "-e", f"preflight_stacks_dir={stacks}")
    assert result.returncode != 0
    assert f"field packages.web.{package} = 99.0-1" in result.stdout
    assert "Install the stack's packages" not in result.stdout
    assert host.check_output("dpkg-query -W -f '${Version}' %s", package) == before
    assert host.file("/etc/apt/preferences.d/stackguard-stack.pref").sha256sum == preferences
