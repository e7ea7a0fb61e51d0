"""Remove secrets from anything on its way to a log line.

One ``redact()`` runs as the last structlog processor, so no caller has to remember it. Keys
that name a secret are masked whatever their value; values that look like a FlowLlama API key,
a JWT or a bearer header are masked wherever they appear, including inside longer strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

MASK = "[REDACTED]"

SECRET_KEY_PARTS = (
    "password", "passwd", "secret", "token", "authorization", "api_key", "apikey", "cookie",
    "credential", "private_key", "signature",
)

_SECRET_VALUE = re.compile(
    r"(fl-[A-Za-z0-9_\-]{20,})"  # FlowLlama API keys
    r"|(eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*)"  # JWTs
    r"|((?i:bearer)\s+[A-Za-z0-9._~+/\-]+=*)"  # Authorization header values
    r"|((?i:token|password|secret)=[^&\s]+)"  # query-string secrets
)


@lru_cache(maxsize=4096)  # log lines reuse a small set of field names
def is_secret_key(key: str) -> bool:
    """True when a field name says its value is a secret (``new_password``, ``refresh_token``)."""
    lowered = key.lower()
    # Token *counts* are metering data, not secrets.
    if lowered.endswith("_tokens") or lowered in {"token_type", "tokens"}:
        return False
    return any(part in lowered for part in SECRET_KEY_PARTS)


def redact_text(text: str) -> str:
    """Mask secret-looking substrings of ``text``."""
    # Every pattern needs one of these markers: looking for them is far cheaper than the
    # regex, and almost every logged string (ids, paths, statuses) has none.
    lowered = text.lower()
    if "fl-" not in lowered and "eyj" not in lowered and "bearer" not in lowered \
            and "=" not in text:
        return text
    return _SECRET_VALUE.sub(MASK, text)


def redact(value: Any) -> Any:
    """A copy of ``value`` with secrets masked, recursing through mappings and sequences."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        masked: dict[Any, Any] = {}
        for key, val in value.items():
            if val is not None and isinstance(key, str) and is_secret_key(key):
                masked[key] = MASK
            elif isinstance(val, str):  # the common cases inline: this runs for every log line
                masked[key] = redact_text(val)
            elif val is None or isinstance(val, int | float):
                masked[key] = val
            else:
                masked[key] = redact(val)
        return masked
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value
