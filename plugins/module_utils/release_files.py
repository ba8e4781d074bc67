"""Read a release's metadata and SQL migrations, from an unpacked directory or from its tarball.

One set of rules for the release_migrations lookup (directories) and the release_artifact action
(tarballs, read without unpacking): ``migrations/NNNN_lower_case_name.sql``, numbered from 0001,
no number twice, UTF-8 text; returned as ``{version, name, sql}`` ascending by version.
"""
import json
import os
import re
import tarfile

from ansible.module_utils.release_compat import member_name

MIGRATION = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class ReleaseFileError(ValueError):
    pass


def parse_migrations(files, where):
    """files: (file name under migrations/, bytes) pairs; where: the directory named in errors."""
    seen, migrations = {}, []
    for name, data in sorted(files):
        match = MIGRATION.match(name)
        if not match:
            raise ReleaseFileError(f"{where}/{name}: a migration's name must be "
                                   f"NNNN_lower_case_name.sql")
        version = int(match.group(1))
        if version == 0:
            raise ReleaseFileError(f"{where}/{name}: migrations are numbered from 0001")
        if version in seen:
            raise ReleaseFileError(f"{where}: {seen[version]} and {name} have the same number "
                                   f"{version}")
        seen[version] = name
        try:
            sql = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ReleaseFileError(f"{where}/{name}: not UTF-8 text ({exc.reason} at byte "
                                   f"{exc.start})") from None
        migrations.append({"version": version, "name": name, "sql": sql})
    return sorted(migrations, key=lambda m: m["version"])


def directory_migrations(release_dir):
    directory = os.path.join(release_dir, "migrations")
    if not os.path.isdir(directory):
        return []
    files = []
    for name in os.listdir(directory):
        with open(os.path.join(directory, name), "rb") as handle:
            files.append((name, handle.read()))
    return parse_migrations(files, directory)


def tarball_contents(artifact):
    """(release.json as a dict or None, the migrations) of a release tarball."""
    metadata, files = None, []
    try:
        with tarfile.open(artifact, mode="r:gz") as tar:
            for member in tar.getmembers():
                name = member_name(member)
                if name == "release.json" and member.isfile():
                    try:
                        metadata = json.loads(tar.extractfile(member).read().decode("utf-8"))
                    except ValueError as exc:
                        raise ReleaseFileError(f"{artifact}: release.json is not JSON ({exc})") from None
                elif name.startswith("migrations/") and member.isfile() and name.count("/") == 1:
                    files.append((name.split("/", 1)[1], tar.extractfile(member).read()))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ReleaseFileError(f"{artifact} is not a readable release tarball: {exc}") from None
    if metadata is not None and not isinstance(metadata, dict):
        raise ReleaseFileError(f"{artifact}: release.json is not a JSON object")
    return metadata, parse_migrations(files, f"{artifact}:migrations")
