"""Read and check an OpenAI request body without a full schema: the gateway forwards it as is.

Only what routing and metering need is checked (``model``, ``stream``, ``messages`` or
``prompt``); everything else is the runtime's business, so new OpenAI parameters pass through.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flowllama.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class ClientRequest:
    """A checked request: its JSON body, the ``model`` asked for, and streaming options."""

    body: dict[str, Any]
    model: str
    stream: bool
    wants_usage: bool

    def upstream_body(self, model: str) -> bytes:
        """The body for the upstream: its own model name, and a usage chunk asked for."""
        body = {**self.body, "model": model}
        if self.stream:
            body["stream_options"] = {**(body.get("stream_options") or {}),
                                      "include_usage": True}
        return json.dumps(body, separators=(",", ":")).encode()


def parse(raw: bytes, required: str) -> ClientRequest:
    """Check ``raw`` as a request that must carry the field ``required`` (``messages`` for
    chat, ``prompt`` for completions); raises ``InvalidInput`` naming the field at fault."""
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput("Request body is not valid JSON", code="invalid_json") from exc
    if not isinstance(body, dict):
        raise InvalidInput("Request body must be a JSON object", code="invalid_json")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidInput("model is required", field="model", code="invalid_input")
    if required == "messages":
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise InvalidInput("messages must be a non-empty list", field="messages",
                               code="invalid_input")
    elif body.get(required) is None:
        raise InvalidInput(f"{required} is required", field=required, code="invalid_input")
    stream = body.get("stream", False)
    if not isinstance(stream, bool) and stream is not None:
        raise InvalidInput("stream must be true or false", field="stream", code="invalid_input")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise InvalidInput("stream_options must be an object", field="stream_options",
                           code="invalid_input")
    wants_usage = bool(options and options.get("include_usage"))
    return ClientRequest(body=body, model=model, stream=bool(stream), wants_usage=wants_usage)
