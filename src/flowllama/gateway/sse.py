"""Relay an upstream server-sent-event stream event by event, counting tokens on the way.

Each complete event is forwarded as soon as its last byte arrives (nothing waits for the whole
answer). Events pass unchanged, except that the gateway always asks the upstream for a usage
chunk (to meter) and drops it again when the client did not ask for one, and adds one before
``[DONE]`` when the client asked and the runtime sent none (llama.cpp), with counted tokens.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from flowllama.gateway.counting import Usage, generated_text_chunks, usage_of

_BOUNDARY = re.compile(rb"\r\n\r\n|\n\n|\r\r")
DONE = b"[DONE]"


def sse_event(payload: dict[str, Any]) -> bytes:
    """One ``data:`` event carrying ``payload`` as JSON."""
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def error_event(message: str, code: str) -> bytes:
    """The event that ends a stream the upstream broke off (the ``openai`` client raises it)."""
    return sse_event({"error": {"message": message, "type": "server_error", "param": None,
                                "code": code}})


def _data_of(event: bytes) -> bytes | None:
    parts = [line[5:].removeprefix(b" ") for line in event.splitlines()
             if line.startswith(b"data:")]
    return b"\n".join(parts).strip() if parts else None


class StreamRelay:
    """Frames upstream bytes into events, filters and counts them (see the module doc)."""

    def __init__(self, *, client_wants_usage: bool, prompt_estimate: int) -> None:
        self.client_wants_usage = client_wants_usage
        self.prompt_estimate = prompt_estimate
        self.upstream_usage: Usage | None = None
        self.generated = 0
        self.finished = False
        self._buffer = b""
        self._meta: dict[str, Any] = {}

    def feed(self, chunk: bytes) -> bytes:
        """The complete events ``chunk`` finishes, ready for the client (maybe nothing)."""
        self._buffer += chunk
        out: list[bytes] = []
        while (match := _BOUNDARY.search(self._buffer)) is not None:
            event, self._buffer = self._buffer[:match.end()], self._buffer[match.end():]
            out.append(self._process(event))
        return b"".join(out)

    def leftover(self) -> bytes:
        """Bytes of an unterminated last event, passed on as they are."""
        rest, self._buffer = self._buffer, b""
        return rest

    def usage(self) -> Usage:
        """The upstream's usage if it sent one, else the counted one (``exact=False``)."""
        if self.upstream_usage is not None:
            return self.upstream_usage
        return Usage(self.prompt_estimate, self.generated, exact=False)

    def _process(self, event: bytes) -> bytes:
        data = _data_of(event)
        if data is None:
            return event
        if data == DONE:
            self.finished = True
            if self.client_wants_usage and self.upstream_usage is None:
                return self._usage_event() + event
            return event
        try:
            payload = json.loads(data)
        except ValueError:
            return event
        if not isinstance(payload, dict):
            return event
        return event if self._count(payload) else b""

    def _count(self, payload: dict[str, Any]) -> bool:
        """Count ``payload``; False when it is a usage-only chunk the client did not ask for."""
        usage = usage_of(payload)
        if usage is not None:
            self.upstream_usage = usage
            if not self.client_wants_usage and not payload.get("choices"):
                return False
        self.generated += generated_text_chunks(payload)
        if not self._meta and "id" in payload:
            self._meta = {k: payload[k] for k in ("id", "object", "created", "model")
                          if k in payload}
        return True

    def _usage_event(self) -> bytes:
        chunk = {"id": "", "object": "chat.completion.chunk", "created": int(time.time()),
                 "model": "", **self._meta, "choices": [], "usage": self.usage().as_openai()}
        return sse_event(chunk)
