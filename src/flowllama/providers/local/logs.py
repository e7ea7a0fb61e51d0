"""Per-deployment runtime logs: ``<root>/logs/<deployment_id>.log`` plus rotated ``.log.N``.

The supervisor writes them (``RotatingFileHandler``: ``.log`` is the newest, ``.log.1`` the one
before, up to ``.log.<backups>``), so their total size is capped. :func:`read_log_tail` reads the
last lines across the rotated files from their ends, without loading whole files.
"""

from __future__ import annotations

import os
from pathlib import Path

from flowllama.providers.naming import resource_name

MAX_TAIL_LINES = 5000
# Reading backwards in blocks: a line is at most 64 KiB (the supervisor splits longer ones).
_BLOCK = 64 * 1024
_MAX_ROTATIONS = 100


def log_file(logs_dir: Path, deployment_id: str) -> Path:
    """The current log file of ``deployment_id``; ``ValueError`` for an unusable id."""
    resource_name(deployment_id)  # the naming rules keep the id a plain file name
    return logs_dir / f"{deployment_id}.log"


def log_files(current: Path) -> list[Path]:
    """``current`` and its rotated files that exist, newest first."""
    files = [current] if current.is_file() else []
    for index in range(1, _MAX_ROTATIONS + 1):
        rotated = current.with_name(f"{current.name}.{index}")
        if not rotated.is_file():
            break
        files.append(rotated)
    return files


def read_log_tail(current: Path, lines: int) -> list[str]:
    """The last ``lines`` lines (at most :data:`MAX_TAIL_LINES`) across the rotated files,
    oldest first; ``[]`` when there is no log."""
    wanted = max(0, min(lines, MAX_TAIL_LINES))
    collected: list[str] = []
    for path in log_files(current):
        if len(collected) >= wanted:
            break
        collected = _tail(path, wanted - len(collected)) + collected
    return collected


def remove_logs(current: Path) -> None:
    """Delete ``current`` and its rotated files."""
    for path in log_files(current):
        path.unlink(missing_ok=True)


def _tail(path: Path, count: int) -> list[str]:
    """The last ``count`` lines of one file, read backwards in blocks."""
    if count <= 0:
        return []
    try:
        with path.open("rb") as handle:
            position = handle.seek(0, os.SEEK_END)
            blocks: list[bytes] = []
            newlines = 0
            # count + 1 newlines guarantee ``count`` complete lines (the last may lack one).
            while position > 0 and newlines <= count:
                step = min(_BLOCK, position)
                position -= step
                handle.seek(position)
                block = handle.read(step)
                blocks.append(block)
                newlines += block.count(b"\n")
    except OSError:
        return []
    text = b"".join(reversed(blocks)).decode("utf-8", "replace").removesuffix("\n")
    # Only "\n" ends a line: runtimes' progress bars put "\r" inside the lines the
    # supervisor wrote, and splitlines() would break those (and the count) apart.
    return text.split("\n")[-count:] if text else []
