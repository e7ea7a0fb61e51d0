"""How a delivery is signed, and how a receiver checks it.

``X-FlowLlama-Signature: sha256=<hex>`` is HMAC-SHA256 with the webhook's secret over
``f"{timestamp}.{body}"``, where ``timestamp`` is the ``X-FlowLlama-Timestamp`` header (Unix
seconds at send time) and ``body`` the raw request body. Signing the timestamp lets a receiver
refuse replays: check the signature, then that the timestamp is recent.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SCHEME = "sha256="
DEFAULT_TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header value for ``body`` sent at ``timestamp``."""
    message = f"{timestamp}.".encode() + body
    return SCHEME + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, body: bytes, header: str, *,
           tolerance_s: float = DEFAULT_TOLERANCE_S, now: float | None = None) -> bool:
    """Whether ``header`` signs ``body`` at ``timestamp`` and the timestamp is recent; what a
    receiver (and the test suite) runs. Compares in constant time."""
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, sent_at, body), header)
