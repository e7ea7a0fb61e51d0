"""How a delivery is signed: Standard Webhooks (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``), so receivers verify it with any Standard Webhooks library.

``webhook-signature`` is ``v1,<base64 HMAC-SHA256>`` over ``f"{id}.{timestamp}.{body}"``, with
the key the base64 part of the ``whsec_...`` secret decodes to. While a rotated-out secret is
still valid, the header carries one signature per secret, separated by a space; a receiver
accepts the delivery when any of them matches the secret it knows. ``webhook-id`` is the
delivery id (the same on every retry), so receivers can drop duplicates; the timestamp lets
them refuse replays.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 (a public prefix, not a secret)
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret, ``whsec_<base64 of 32 random bytes>`` as the spec writes it."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of ``secret``, decoded as Standard Webhooks libraries decode it. Secrets
    made before FlowLlama used the standard are not base64: their UTF-8 bytes are the key."""
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX) + "==")
    except (binascii.Error, ValueError):
        return secret.encode()
    return key or secret.encode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature."""
    message = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(signing_secrets: Sequence[str], message_id: str, timestamp: int,
                     body: bytes) -> str:
    """The ``webhook-signature`` value: a signature per secret, space-separated."""
    return " ".join(sign(secret, message_id, timestamp, body) for secret in signing_secrets)
