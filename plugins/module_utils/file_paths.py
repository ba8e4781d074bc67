"""Small filesystem helpers the host-side libraries share."""
import os
import tempfile


def is_release_name(version):
    """Whether `version` can name a directory under releases/: one path component, and not the
    `.partial` a staging run unpacks into."""
    return (isinstance(version, str) and bool(version) and "/" not in version and "\0" not in version
            and version not in (".", "..") and not version.endswith(".partial"))


def make_dirs(directory, mode=0o755):
    """Create `directory` and its missing parents with `mode`, whatever the umask."""
    if os.path.isdir(directory):
        return
    make_dirs(os.path.dirname(directory), mode)
    try:
        os.mkdir(directory, mode)
    except FileExistsError:
        return
    os.chmod(directory, mode)


def write_atomically(path, content, mode=0o644, group=None, fsync=False):
    """Replace `path` with `content` (text) in one rename: readers see the old file or the new one,
    never a part. The temporary file is created beside it (same filesystem), owned by root and
    `group` (a gid) when given, with `mode` set before the rename."""
    directory = os.path.dirname(path) or "."
    fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        if group is not None:
            os.chown(temp, 0, group)
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
