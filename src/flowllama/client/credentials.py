"""Where the CLI keeps its logins: one JSON file in the user's config directory.

``$FLOWLLAMA_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/flowllama``, else ``~/.config/flowllama``
holds ``credentials.json`` (mode 0600, directory 0700): one entry per server URL (its access
token, refresh token, expiry and email) and which server is current. Writes are atomic (a
temporary file renamed over the old one), and :func:`locked` serialises token refreshes between
CLI processes so two of them never spend the same refresh token (the API revokes the whole
session when a refresh token is used twice).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

FILE_NAME = "credentials.json"
# Refresh this long before the access token expires, so a request never races its expiry.
EXPIRY_MARGIN_S = 30.0


@dataclass(frozen=True)
class Login:
    """One server's login: its tokens and when the access token expires (epoch seconds)."""

    url: str
    email: str
    access_token: str
    refresh_token: str | None
    expires_at: float

    def expired(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) >= self.expires_at - EXPIRY_MARGIN_S


def config_dir() -> Path:
    """The CLI's config directory (not created)."""
    explicit = os.environ.get("FLOWLLAMA_CONFIG_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "flowllama"


def normalise_url(url: str) -> str:
    """``http://host:8000/`` and ``http://host:8000`` are one server."""
    return url.strip().rstrip("/")


class CredentialStore:
    """The logins file. Missing or unreadable means "no login", never a crash."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or config_dir()
        self.path = self.directory / FILE_NAME

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"current": None, "servers": {}}
        if not isinstance(data, dict) or not isinstance(data.get("servers"), dict):
            return {"current": None, "servers": {}}
        return data

    def _write(self, data: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".credentials-", suffix=".json")
        try:
            os.fchmod(fd, 0o600)  # before any secret is written
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=2)
            Path(tmp).replace(self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                Path(tmp).unlink()
            raise

    def current_url(self) -> str | None:
        current = self._read().get("current")
        return current if isinstance(current, str) else None

    def get(self, url: str) -> Login | None:
        entry = self._read()["servers"].get(normalise_url(url))
        if not isinstance(entry, dict):
            return None
        try:
            return Login(**entry)
        except TypeError:  # an entry written by another version: log in again
            return None

    def save(self, login: Login, *, make_current: bool = True) -> None:
        data = self._read()
        data["servers"][login.url] = asdict(login)
        if make_current:
            data["current"] = login.url
        self._write(data)

    def remove(self, url: str) -> bool:
        """Forget ``url``'s login; whether there was one."""
        data = self._read()
        url = normalise_url(url)
        found = data["servers"].pop(url, None) is not None
        if data.get("current") == url:
            data["current"] = next(iter(data["servers"]), None)
        if found:
            self._write(data)
        return found

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock on the logins (for read-refresh-write)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        lock_path = self.directory / ".credentials.lock"
        with lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
