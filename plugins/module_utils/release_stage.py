"""Stage a release on a web host: checked, unpacked, linted and moved into place, in one call.

The release_stage module's whole job, before the release goes live anywhere:

1. refuse a release this host cannot run (release_compat against the PHP found here and the
   database server's version found on the database host);
2. refuse a version already staged from another artifact (versions are immutable), and do nothing
   more for one staged from this artifact;
3. write the shared configuration (with the secrets, 0640 root:<group>) when it differs;
4. unpack into ``releases/<version>.partial`` (members that could escape the release are refused),
   link the shared paths, lint every PHP file with this host's own PHP, record the artifact's
   sha256, and rename the directory to ``releases/<version>``: whole or absent, never half there.

Commands go through ``run(argv) -> (rc, out, err)``, so tests run the real ``php -l``.
"""
import concurrent.futures
import grp
import os
import shutil
import tarfile

from ansible.module_utils.file_paths import is_release_name, make_dirs, write_atomically
from ansible.module_utils.release_compat import (
    ReleaseError, member_name, member_problem, run as check_compat)

MARKER = ".artifact.sha256"


class StageError(Exception):
    pass


def check_version_name(version):
    if not is_release_name(version):
        raise StageError(f"version {version!r} is not a release directory name; nothing changed")


def staged_sha256(release_dir):
    """The artifact digest a staged release came from; None when it is not staged."""
    try:
        with open(os.path.join(release_dir, MARKER), encoding="ascii") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return None


def check_runtime(artifact, version, facts, host):
    """release_compat against this host; StageError with its message when incompatible."""
    try:
        result = check_compat(artifact, facts=facts, label=host, release_version=version)
    except ReleaseError as exc:
        raise StageError(f"release {version}: {exc}; nothing changed") from None
    if not result["compatible"]:
        raise StageError(f"{result['msg']}; nothing changed")
    return result["msg"]


def write_config(path, content, group, check_mode=False):
    """Write the shared configuration atomically, 0640 root:group; whether it changed."""
    try:
        with open(path, encoding="utf-8") as handle:
            if handle.read() == content:
                info = os.stat(path)
                if info.st_mode & 0o777 == 0o640 and info.st_gid == group:
                    return False
    except FileNotFoundError:
        pass
    if check_mode:
        return True
    write_atomically(path, content, 0o640, group=group)
    return True


def unpack(artifact, destination):
    """Extract the release tarball; StageError for a member that could escape the release."""
    with tarfile.open(artifact, mode="r:gz") as tar:
        members = []
        for member in tar.getmembers():
            name = member_name(member)
            if not name:
                continue
            problem = member_problem(member, name)
            if problem:
                raise StageError(f"member {member.name!r} of the artifact is {problem}; refusing it")
            member.uid = member.gid = 0
            member.uname = member.gname = "root"
            members.append(member)
        tar.extractall(destination, members=members, numeric_owner=True)


def link_shared(release_dir, shared_dir, paths):
    for relative in paths:
        link = os.path.join(release_dir, relative)
        make_dirs(os.path.dirname(link))
        if os.path.lexists(link):
            if os.path.isdir(link) and not os.path.islink(link):
                shutil.rmtree(link)
            else:
                os.unlink(link)
        os.symlink(os.path.join(shared_dir, relative), link)


def php_files(directory):
    for base, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(".php"):
                yield os.path.join(base, name)


def lint(directory, run, php, workers=4):
    """`php -l` on every PHP file: the errors, as `file: message` lines (empty when it parses)."""
    def one(path):
        rc, out, err = run([php, "-l", path])
        if rc == 0:
            return None
        text = " ".join(line.strip() for line in (out + err).splitlines()
                        if line.strip() and not line.startswith("Errors parsing"))
        return f"{os.path.relpath(path, directory)}: {text or f'php -l exited {rc}'}"

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        return [error for error in pool.map(one, php_files(directory)) if error]


def stage(root, version, artifact, sha256, run, php, facts, host, config=None, group="www-data",
          shared_paths=("config/app.ini", "uploads"), check_mode=False):
    """The module's result dict; StageError when the release must not be staged."""
    check_version_name(version)
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        if not check_mode:
            raise StageError(f"group {group} does not exist on {host}: is the runtime stack "
                             f"(Apache) installed? nothing changed") from None
        return dict(changed=True, staged=False, compat=None,
                    msg=f"{host} has no {group} group yet (no Apache): the release would be "
                        f"staged once the runtime stack is installed")
    compat = check_runtime(artifact, version, facts, host)
    release_dir = os.path.join(root, "releases", version)
    already = staged_sha256(release_dir)
    if already is not None and already != sha256:
        raise StageError(f"release {version} is already on {host} from another artifact (sha256 "
                         f"{already}, now {sha256}). A version is immutable: build the change as a "
                         f"new version; nothing changed")
    result = dict(changed=False, staged=already is None, compat=compat, lint_errors=[])
    shared = os.path.join(root, "shared")
    if not check_mode:
        for directory, mode, owner_group in ((root, 0o755, 0), (os.path.join(root, "releases"), 0o755, 0),
                                             (shared, 0o755, 0), (os.path.join(shared, "config"), 0o750, gid),
                                             (os.path.join(shared, "uploads"), 0o770, gid)):
            if not os.path.isdir(directory):
                make_dirs(directory, mode)
                os.chown(directory, 0, owner_group)
                result["changed"] = True
    if config is not None:
        config_dir = os.path.join(shared, "config")
        if check_mode and not os.path.isdir(config_dir):
            result["changed"] = True
        elif write_config(os.path.join(config_dir, "app.ini"), config, gid, check_mode):
            result["changed"] = True
    if already is not None:
        return result
    result["changed"] = True
    if check_mode:
        return result
    partial = release_dir + ".partial"
    if os.path.lexists(partial):
        shutil.rmtree(partial)  # what an interrupted run left behind
    os.mkdir(partial, 0o755)
    try:
        unpack(artifact, partial)
        link_shared(partial, shared, shared_paths)
        errors = lint(partial, run, php)
        if errors:
            result["lint_errors"] = errors
            raise StageError(f"release {version} does not parse with this host's PHP ({host}): "
                             + "; ".join(errors[:5])
                             + (f"; and {len(errors) - 5} more" if len(errors) > 5 else "")
                             + "; current is untouched")
        with open(os.path.join(partial, MARKER), "w", encoding="ascii") as handle:
            handle.write(sha256 + "\n")
        os.rename(partial, release_dir)  # one rename: releases/<version> is whole or absent
    except BaseException as exc:
        shutil.rmtree(partial, ignore_errors=True)
        if isinstance(exc, StageError):
            exc.result = result
            raise
        if isinstance(exc, (OSError, tarfile.TarError, EOFError)):
            raise StageError(f"release {version} cannot be staged on {host}: {exc}; current is "
                             f"untouched") from None
        raise
    return result
