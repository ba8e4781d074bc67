"""YAML to data on the controller, through libyaml when PyYAML was built with it.

Every preflight reads each environment's inventory, the stack manifests and the toolchain pins;
libyaml's parser is several times faster than the pure-Python one, and gives the same data.
"""
import yaml

SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(stream):
    return yaml.load(stream, Loader=SafeLoader)  # noqa: S506 - a safe loader
