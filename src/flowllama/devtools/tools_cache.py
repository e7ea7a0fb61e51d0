"""A per-user cache of test-time tools the project builds itself (provider mirror, schemas,
checkov's venv), so a fresh clone's CI can make them and later runs reuse them.

Location: ``$FLOWLLAMA_TOOLS_CACHE``, else ``~/.cache/flowllama-tools``. Each entry is built in
a temporary sibling directory and renamed into place, under a lock file: a half-built entry is
never visible, and two processes that race build it once.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

CACHE_ENV = "FLOWLLAMA_TOOLS_CACHE"


class ToolUnavailable(Exception):
    """A tool could not be obtained or built (the message says what failed and why)."""


def tools_cache_dir() -> Path:
    """The cache root (not created)."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / (
        "flowllama-tools")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached_directory(name: str, build: Callable[[Path, Path], None],
                     cache_dir: Path | None = None) -> Path:
    """``<cache>/<name>``, built once by ``build(work_dir, final_dir)`` when absent.

    ``build`` fills ``work_dir``, which is then renamed to ``final_dir``; it may write
    ``final_dir`` into files (e.g. absolute paths) but must not create it. Its exceptions
    propagate and leave nothing behind.
    """
    root = cache_dir or tools_cache_dir()
    final = root / name
    if final.is_dir():
        return final
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / f".{name}.lock"):
        if final.is_dir():  # another process built it while we waited
            return final
        work = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
        try:
            build(work, final)
            work.rename(final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return final


def run_tool(argv: Sequence[str], what: str, *, cwd: Path | None = None,
             timeout_s: float = 900, env: Mapping[str, str] | None = None,
             stdin: IO[bytes] | None = None, check: bool = True,
             ) -> subprocess.CompletedProcess[str]:
    """Run a build step; :class:`ToolUnavailable` (with the output's tail) when it fails.

    ``env`` replaces the environment, ``stdin`` feeds the process; with ``check=False`` a
    non-zero exit is returned rather than raised (a failure to start still raises).
    """
    try:
        result = subprocess.run(  # noqa: S603 - an argument list of this package's making
            list(argv), cwd=cwd, capture_output=stdin is None, text=stdin is None,
            timeout=timeout_s, check=False, env=None if env is None else dict(env),
            stdin=stdin, stdout=None if stdin is None else subprocess.PIPE,
            stderr=None if stdin is None else subprocess.PIPE)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolUnavailable(f"{what}: {exc}") from exc
    if stdin is not None:  # binary pipes (a file on stdin): decode afterwards
        result = subprocess.CompletedProcess(
            result.args, result.returncode, result.stdout.decode(errors="replace"),
            result.stderr.decode(errors="replace"))
    if check and result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
        raise ToolUnavailable(f"{what} failed (exit {result.returncode}):\n" + "\n".join(tail))
    return result
