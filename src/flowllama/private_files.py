"""Keep what FlowLlama writes under its data dir private to the user running it.

The data dir holds the SQLite database, the JWT secret, queued mail (reset links), runtime logs
and Terraform state. One rule covers every writer: every ``flowllama`` command (serving or not,
``db upgrade`` and ``user create`` alike) runs with umask 077, so each file it (and the runtimes
it starts) creates is 0600 and each folder 0700. The data dir itself is made 0700, which also
shuts out files an older version left world-readable, and an existing SQLite database (with its
WAL, shared-memory and journal files) is made 0600 at start.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600
# SQLite keeps a database's recent writes and locks next to it, as readable as the data itself.
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def make_process_private() -> int:
    """Set the process's umask to 077 (inherited by its children); returns the old one."""
    return os.umask(PRIVATE_UMASK)


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) if needed and make it 0700 when this user owns it."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o777 != DIR_MODE:
        path.chmod(DIR_MODE)


def make_private_file(path: Path) -> None:
    """Make an existing file 0600 when this user owns it and others may read or write it; a
    missing file or another user's is left alone."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if info.st_uid == os.getuid() and info.st_mode & 0o077:
        path.chmod(FILE_MODE)


def secure_data_dir(data_dir: Path, sqlite_file: Path | None = None) -> None:
    """The data dir 0700 (created if needed) and, when the database is the SQLite file
    ``sqlite_file``, that file and its companions 0600: a database an older version or a
    command without umask 077 wrote world-readable holds password hashes and reset tokens."""
    ensure_private_dir(data_dir)
    if sqlite_file is not None:
        for suffix in SQLITE_COMPANIONS:
            make_private_file(sqlite_file.with_name(sqlite_file.name + suffix))
