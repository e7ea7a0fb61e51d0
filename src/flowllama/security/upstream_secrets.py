"""Secrets of external inference servers (``cloud: external``), sealed at rest with Fernet.

An external server's secret (an Ollama behind a proxy that wants a bearer token, an
OpenAI-compatible server's API key) is presented by the gateway and the monitor on every
request, so it cannot be stored hashed; it is stored encrypted as ``enc:v1:<fernet token>``
(AES-128-CBC + HMAC-SHA256), like webhook secrets, so a copy of the database (a backup, a read
replica) hands out nothing. The key is derived (HKDF-SHA256, its own label) from the platform
secret every role already shares (the JWT signing secret). Rotating that secret makes the stored
secrets unreadable: register the servers again (``flowllama external register`` is idempotent).
The secret is never returned by the API, logged, or written into a provisioner handle.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from flowllama.errors import ConfigError

PREFIX = "enc:v1:"
_HKDF_INFO = b"flowllama external server secrets v1"


class UpstreamSecrets:
    """Seals and opens external servers' secrets with a key derived from the platform secret."""

    def __init__(self, platform_secret: str) -> None:
        if not platform_secret:
            raise ValueError("upstream secrets need a non-empty platform secret")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=_HKDF_INFO).derive(platform_secret.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, secret: str) -> str:
        """The value to store for ``secret``."""
        return PREFIX + self._fernet.encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        """The secret in clear; ``ConfigError`` when it was sealed under another key."""
        if not stored.startswith(PREFIX):
            raise ConfigError("An external server's secret is not sealed; register it again")
        try:
            return self._fernet.decrypt(stored.removeprefix(PREFIX).encode()).decode()
        except InvalidToken as exc:
            raise ConfigError("An external server's secret does not decrypt with the platform "
                              "secret (was the JWT secret rotated?); register the server again "
                              "(flowllama external register)") from exc

    def headers(self, stored: str | None) -> dict[str, str]:
        """The header that authenticates to the server: ``Authorization: Bearer <secret>``
        (both Ollama behind an authenticating proxy and OpenAI-compatible servers take it);
        none when the server has no secret."""
        if not stored:
            return {}
        return {"Authorization": f"Bearer {self.open(stored)}"}

    def __repr__(self) -> str:  # never print the key
        return "UpstreamSecrets(key=***)"
