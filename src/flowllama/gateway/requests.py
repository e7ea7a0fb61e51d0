"""Read and check an OpenAI request body against the allow-list in :mod:`.schema`.

The body is decoded and checked in one pass, and refused (400, OpenAI's
``invalid_request_error`` naming the field) when it is not JSON, nests deeper than the decoder
allows, carries a field the schema does not list, or breaks a bound; the checked body is
forwarded as the client sent it, with only ``model`` and ``stream_options`` rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import to_json

from flowllama.gateway.schema import SCHEMAS, InvalidRequest


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
        # pydantic-core's encoder writes the same compact JSON (UTF-8, not \u escapes) in a
        # sixth of json.dumps's time: this runs once per request.
        return to_json(body)


def parse(raw: bytes, required: str) -> ClientRequest:
    """Check ``raw`` as a request whose main field is ``required`` (``messages`` for chat,
    ``prompt`` for completions, ``input`` for embeddings); raises ``InvalidRequest``."""
    try:
        body: dict[str, Any] = SCHEMAS[required].validate_json(raw)
    except ValidationError as exc:
        raise refusal(exc) from None
    options = body.get("stream_options")
    return ClientRequest(body=body, model=body["model"], stream=bool(body.get("stream")),
                         wants_usage=bool(options and options.get("include_usage")))


def refusal(exc: ValidationError) -> InvalidRequest:
    """``exc`` as OpenAI words it, ``param`` naming the field. Of the errors a union field
    collects (one per accepted shape), a broken bound says more than a wrong type."""
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    error = next((e for e in errors if not e["type"].endswith("_type")
                  and e["type"] not in _VAGUE), errors[0])
    param = _param(error["loc"])
    if error["type"] == "json_invalid":  # includes nesting past the decoder's depth limit
        return InvalidRequest(f"Request body is not valid JSON: {error['msg']}",
                              code="invalid_json")
    if param is None:
        return InvalidRequest("Request body must be a JSON object", code="invalid_json")
    if error["type"] == "extra_forbidden":
        return InvalidRequest(f"Unrecognized request argument supplied: {param}",
                              field=param, code="unknown_parameter")
    if error["type"] == "missing":
        return InvalidRequest(f"{param} is required", field=param, code="missing_required")
    return InvalidRequest(f"Invalid value for {param}: {error['msg']}", field=param,
                          code="invalid_value")


_VAGUE = frozenset({"none_required", "literal_error", "union_tag_invalid"})
_TYPE_LABELS = frozenset({"str", "int", "float", "bool", "list", "dict", "none"})


def _param(loc: tuple[int | str, ...]) -> str | None:
    """The field path of an error location, without pydantic's union-member labels
    (``stop.list[constrained-str].3`` → ``stop``)."""
    parts: list[str] = []
    for part in loc:
        if isinstance(part, str) and (not part.isidentifier() or part in _TYPE_LABELS):
            break
        parts.append(str(part))
    return ".".join(parts) or None
