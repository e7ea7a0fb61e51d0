"""The allow-list of fields the Ollama passthrough forwards, with bounds, and the model pin.

As for ``/v1`` (:mod:`.schema`): a native body may carry only the fields listed for its route,
``options`` only sampling knobs (never ``num_gpu``, ``num_thread``, ``use_mmap``... which
configure the server), ``num_ctx`` and ``num_predict`` within the deployment's context size,
and never ``keep_alive`` (which loads and unloads models on the shared server). ``model`` is
always replaced by the deployment's own model, so a key cannot reach another model present on
the same runtime. Refusals are 400s in Ollama's error shape.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Required

from pydantic import Field, StrictBool, TypeAdapter, ValidationError, with_config
from typing_extensions import TypedDict

from flowllama.gateway.requests import refusal
from flowllama.gateway.schema import (
    MAX_INPUTS,
    MAX_MESSAGES,
    MAX_TOOLS,
    OPEN,
    STRICT,
    InvalidRequest,
    JsonObject,
    JsonSchema,
    Stop,
)

FILL_CONTEXT = -2  # Ollama's num_predict for "until the context is full" (bounded)


@with_config(STRICT)
class Options(TypedDict, total=False):
    """Per-request sampling options; ``num_ctx``/``num_predict`` are bounded after routing."""

    num_ctx: Annotated[int, Field(ge=1)] | None
    num_predict: Annotated[int, Field(ge=FILL_CONTEXT)] | None
    num_keep: Annotated[int, Field(ge=-1)] | None
    seed: int | None
    temperature: Annotated[float, Field(ge=0, le=2)] | None
    top_k: Annotated[int, Field(ge=0, le=1000)] | None
    top_p: Annotated[float, Field(ge=0, le=1)] | None
    min_p: Annotated[float, Field(ge=0, le=1)] | None
    typical_p: Annotated[float, Field(ge=0, le=1)] | None
    tfs_z: Annotated[float, Field(ge=0, le=10)] | None
    repeat_last_n: Annotated[int, Field(ge=-1, le=65536)] | None
    repeat_penalty: Annotated[float, Field(ge=0, le=10)] | None
    presence_penalty: Annotated[float, Field(ge=-2, le=2)] | None
    frequency_penalty: Annotated[float, Field(ge=-2, le=2)] | None
    penalize_newline: StrictBool | None
    mirostat: Literal[0, 1, 2] | None
    mirostat_tau: Annotated[float, Field(ge=0, le=20)] | None
    mirostat_eta: Annotated[float, Field(ge=0, le=1)] | None
    stop: Stop


@with_config(OPEN)
class NativeMessage(TypedDict, total=False):
    role: Required[Literal["system", "user", "assistant", "tool"]]
    content: str | None


Name = Annotated[str, Field(max_length=256)] | None


@with_config(STRICT)
class _Native(TypedDict, total=False):
    model: Name
    options: Options | None
    stream: StrictBool | None
    format: Literal["json"] | JsonSchema | None  # compiled into a grammar, as OpenAI's
    think: StrictBool | Literal["low", "medium", "high"] | None


@with_config(STRICT)
class Chat(_Native, total=False):
    messages: Required[Annotated[list[NativeMessage], Field(max_length=MAX_MESSAGES)]]
    tools: Annotated[list[JsonObject], Field(max_length=MAX_TOOLS)] | None


@with_config(STRICT)
class Generate(_Native, total=False):
    prompt: str | None
    suffix: str | None
    system: str | None
    template: str | None
    raw: StrictBool | None
    images: Annotated[list[str], Field(max_length=16)] | None
    context: Annotated[list[int], Field(max_length=1 << 20)] | None


@with_config(STRICT)
class Embed(TypedDict, total=False):
    model: Name
    input: Required[str | Annotated[list[str], Field(max_length=MAX_INPUTS)]]
    truncate: StrictBool | None
    dimensions: Annotated[int, Field(ge=1, le=65536)] | None
    options: Options | None


@with_config(STRICT)
class Show(TypedDict, total=False):
    model: Name
    name: Name
    verbose: StrictBool | None


NATIVE_SCHEMAS: dict[str, TypeAdapter[Any]] = {
    "chat": TypeAdapter(Chat), "generate": TypeAdapter(Generate), "embed": TypeAdapter(Embed),
    "show": TypeAdapter(Show)}


STREAMING_ROUTES = frozenset({"chat", "generate"})


def native_body(route: str, raw: bytes, model: str, context_size: int) -> tuple[bytes, bool]:
    """``raw`` checked for ``/api/<route>`` and pinned to ``model``, and whether the answer
    streams (Ollama streams chat and generate unless ``"stream": false``); ``InvalidRequest``
    (400) naming the field at fault otherwise."""
    try:
        body: dict[str, Any] = NATIVE_SCHEMAS[route].validate_json(raw)
    except ValidationError as exc:
        raise refusal(exc) from None
    options: dict[str, Any] = body.get("options") or {}
    if context_size > 0:
        for name in ("num_ctx", "num_predict"):
            value = options.get(name)
            if value is not None and value > context_size:
                raise InvalidRequest(
                    f"options.{name} must be at most {context_size} (this deployment's "
                    "context size)", field=f"options.{name}", code="invalid_value")
    body.pop("name", None)  # /api/show's old spelling of model: one name, the pinned one
    body["model"] = model
    stream = route in STREAMING_ROUTES and body.get("stream") is not False
    return json.dumps(body, separators=(",", ":")).encode(), stream
