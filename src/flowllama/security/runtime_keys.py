"""Per-deployment runtime keys: the secret only the gateway and the monitor present to a
deployment's inference server.

Users reach a model only through the gateway, where API keys, limits and metering apply. A
runtime therefore listens on loopback (or a private subnet) and refuses requests without its
key: llama.cpp checks it itself (``API_KEY``); a local Ollama, which cannot, runs in a private
network namespace behind a keyed front (``flowllama.providers.local.keyed_front``). The key
is derived, not stored: ``HMAC-SHA256(platform secret, "flowllama-runtime:" + deployment
id)``, so every role that holds the platform secret (the JWT signing secret) computes the same
key and no database row, handle or log line ever carries it. Rotating the platform secret
changes every key: restart the runtimes (stop/start the deployments) after a rotation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

LABEL = b"flowllama-runtime:"


@dataclass(frozen=True, slots=True)
class RuntimeKeys:
    """Derives each deployment's runtime key from the platform secret."""

    platform_secret: str

    def __post_init__(self) -> None:
        if not self.platform_secret:
            raise ValueError("runtime keys need a non-empty platform secret")

    def key(self, deployment_id: str) -> str:
        """The deployment's key: 43 URL-safe characters (256 bits), stable across processes."""
        digest = hmac.new(self.platform_secret.encode(), LABEL + deployment_id.encode(),
                          hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def headers(self, deployment_id: str) -> dict[str, str]:
        """The request header that authenticates to the deployment's runtime."""
        return {"Authorization": f"Bearer {self.key(deployment_id)}"}

    def __repr__(self) -> str:  # never print the secret
        return "RuntimeKeys(platform_secret=***)"
