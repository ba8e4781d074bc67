"""Small filesystem helpers the host-side libraries share."""
import os


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
