"""verify.yml reports drift made behind Ansible's back, item by item, and a converge repairs it."""
import json
import os
import tempfile

from stackguard_testing import run_playbook, stack_manifest

PINNED_INTL = "7.4.33-1+deb11u12"


def verify_report(host):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "report.json")
        result = run_playbook("verify.yml", host.backend.host,
                              "-e", f"verify_stack_report_file={path}")
        with open(path, encoding="utf-8") as handle:
            return result, json.load(handle)[host.backend.host]


def test_verify_reports_each_drift_item_exactly_and_fails(host):
    result, report = verify_report(host)
    assert result.returncode != 0
    assert report["in_sync"] is False
    assert report["drift"] == [
        {"kind": "package", "name": "php7.4-intl", "expected": PINNED_INTL,
         "actual": "7.4.33-1+deb11u99"},
        {"kind": "hold", "name": "apache2", "expected": "held", "actual": "not held"},
        # dpkg -i of another build also resets the package's selection: its hold is gone too.
        {"kind": "hold", "name": "php7.4-intl", "expected": "held", "actual": "not held"},
        # extensions in the manifest's order
        {"kind": "extension", "name": "mbstring", "expected": "loaded", "actual": "not loaded"},
        {"kind": "extension", "name": "intl", "expected": "loaded", "actual": "not loaded"},
    ]
    assert f"1 of 1 hosts drift: {host.backend.host} (package php7.4-intl, hold apache2, " \
           "hold php7.4-intl, extension mbstring, extension intl)" in result.stdout


def test_a_converge_returns_the_host_to_its_pins(host):
    converge = run_playbook("provision-stack.yml", host.backend.host)
    assert converge.returncode == 0, converge.stdout[-3000:]
    result, report = verify_report(host)
    assert result.returncode == 0, result.stdout[-3000:]
    assert report == {"in_sync": True, "drift": [],
                      "summary": f"in sync with {stack_manifest(host)['name']}@1"}
    assert host.check_output("dpkg-query -W -f '${Version}' php7.4-intl") == PINNED_INTL
    assert "mbstring" in host.check_output("php -m")
