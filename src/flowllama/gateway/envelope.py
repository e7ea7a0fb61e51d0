"""OpenAI's error envelope, ``{"error": {"message", "type", "param", "code"}}``, for ``/v1``.

The ``/v1`` endpoints answer every error in it, so the official clients raise their usual
exceptions (``AuthenticationError``, ``NotFoundError``...).
"""

from __future__ import annotations

import json
from typing import Any


def error_type(status_code: int, code: str | None = None) -> str:
    """OpenAI's ``type`` for a status: client errors are ``invalid_request_error``."""
    if code == "insufficient_quota":  # OpenAI's own spelling for a used-up budget
        return code
    if status_code >= 500:
        return "server_error"
    return "rate_limit_error" if status_code == 429 else "invalid_request_error"


def envelope(status_code: int, message: str, code: str | None, param: str | None = None
             ) -> dict[str, Any]:
    """The body of an error answer."""
    return {"error": {"message": message, "type": error_type(status_code, code),
                      "param": param, "code": code}}


def json_bytes(payload: Any) -> bytes:
    """Compact JSON, as the gateway writes it."""
    return json.dumps(payload, separators=(",", ":")).encode()



def render(status_code: int, message: str, code: str | None, param: str | None) -> bytes:
    """The envelope as bytes (a :data:`~flowllama.gateway.wire.ErrorRenderer`)."""
    return json_bytes(envelope(status_code, message, code, param))
