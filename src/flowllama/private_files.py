"""Keep what FlowLlama writes under its data dir private to the user running it.

The data dir holds the SQLite database, the JWT secret, queued mail (reset links), runtime logs
and Terraform state. One rule covers every writer: serving processes run with umask 077, so
each file they (and the runtimes they start) create is 0600 and each folder 0700, and the data
dir itself is made 0700, which also shuts out files an older version left world-readable.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700


def make_process_private() -> int:
    """Set the process's umask to 077 (inherited by its children); returns the old one."""
    return os.umask(PRIVATE_UMASK)


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) if needed and make it 0700 when this user owns it."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o777 != DIR_MODE:
        path.chmod(DIR_MODE)
