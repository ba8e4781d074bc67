DOCUMENTATION = r"""
module: release_artifact
short_description: Fetch a release artifact to the controller, verify its sha256, read its metadata and migrations
description:
  - Runs on the controller only, in one task - downloads the artifact when it is an http(s) URL
    (into O(cache_dir), kept while its sha256 matches), compares the file's sha256 with O(sha256),
    and reads C(release.json) and C(migrations/NNNN_name.sql) straight from the tarball (nothing is
    unpacked).
  - An empty O(sha256) is accepted only for a local file with its C(<artifact>.sha256) beside it
    (a C(make release) build); a URL always needs a pinned sha256.
  - A checksum that differs from the pinned one is refused: it is not the artifact that was pinned.
  - See C(plugins/module_utils/release_files.py) for the migration file rules.
version_added: "1.0.0"
options:
  version:
    description: The release's version, for messages.
    type: str
    required: true
  artifact:
    description: The release tarball, a path on the controller or an http(s) URL.
    type: str
    required: true
  sha256:
    description: The pinned sha256 of the artifact.
    type: str
    default: ""
  cache_dir:
    description: Where downloaded artifacts are kept on the controller.
    type: path
    required: true
"""

EXAMPLES = r"""
- name: Fetch and verify the release artifact
  release_artifact:
    version: "{{ stackguard_app_release.version }}"
    artifact: "{{ stackguard_app_release.artifact }}"
    sha256: "{{ stackguard_app_release.sha256 }}"
    cache_dir: .cache/releases
  delegate_to: localhost
  run_once: true
  register: artifact
"""

RETURN = r"""
path:
  description: The artifact on the controller.
  type: str
  returned: success
sha256:
  description: Its sha256 (the pinned one, verified).
  type: str
  returned: success
metadata:
  description: Its C(release.json) (empty when it has none).
  type: dict
  returned: success
migrations:
  description: Its migrations, C({version, name, sql}) ascending by version.
  type: list
  elements: dict
  returned: success
"""

import hashlib
import os
import re
import tempfile
import urllib.error
import urllib.request

import ansible.module_utils
from ansible.plugins.action import ActionBase

# Controller-side plugins do not see the repo's module_utils path the way modules do; add it so
# the one shared library is imported under its usual name.
_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.release_files import ReleaseFileError, tarball_contents  # noqa: E402

ARGUMENT_SPEC = dict(
    version=dict(type="str", required=True),
    artifact=dict(type="str", required=True),
    sha256=dict(type="str", default=""),
    cache_dir=dict(type="path", required=True),
)


class ArtifactError(Exception):
    pass


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url, path, timeout=60):
    """Fetch url to path (a temporary file renamed into place)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".download.", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise ArtifactError(f"cannot download {url}: {getattr(exc, 'reason', exc)}") from None


def settle(version, artifact, pinned, cache_dir):
    """(local path, verified sha256); ArtifactError with the reason and what to do."""
    is_url = re.match(r"^https?://", artifact) is not None
    if is_url:
        if not pinned:
            raise ArtifactError(f"release {version}: {artifact} is a URL and no sha256 is pinned "
                                f"for it; pin the artifact's sha256 in the inventory")
        path = os.path.join(cache_dir, os.path.basename(artifact.split("?", 1)[0]))
        if not os.path.isfile(path) or file_sha256(path) != pinned:
            download(artifact, path)
    else:
        path = artifact
        if not os.path.isfile(path):
            raise ArtifactError(f"release {version}: no artifact at {path} (for the local "
                                f"environment, build it with `make release`)")
        if not pinned:
            try:
                with open(path + ".sha256", encoding="ascii") as handle:
                    pinned = handle.read().split()[0]
            except (OSError, IndexError):
                raise ArtifactError(f"release {version}: no sha256 pinned and no {path}.sha256 "
                                    f"beside the artifact; pin its sha256") from None
    actual = file_sha256(path)
    if actual != pinned:
        raise ArtifactError(f"release {version}: {path} has sha256 {actual}, expected {pinned}. "
                            f"Refusing to deploy an artifact that is not the one pinned.")
    return path, actual


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True  # reads and verifies; a download only fills the controller's cache
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            path, sha256 = settle(args["version"], args["artifact"], args["sha256"].strip().lower(),
                                  args["cache_dir"])
            metadata, migrations = tarball_contents(path)
        except (ArtifactError, ReleaseFileError) as exc:
            result.update(failed=True, changed=False, msg=str(exc))
            return result
        result.update(changed=False, path=path, sha256=sha256, metadata=metadata or {},
                      migrations=migrations)
        return result
