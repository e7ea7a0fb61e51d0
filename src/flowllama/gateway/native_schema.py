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
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from flowllama.gateway.requests import decode_object, refusal
from flowllama.gateway.schema import (
    MAX_INPUTS,
    MAX_MESSAGES,
    MAX_TOOLS,
    InvalidRequest,
    JsonObject,
    Stop,
)

FILL_CONTEXT = -2  # Ollama's num_predict for "until the context is full" (bounded)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Options(_Strict):
    """Per-request sampling options; ``num_ctx``/``num_predict`` are bounded after routing."""

    num_ctx: Annotated[int, Field(ge=1)] | None = None
    num_predict: Annotated[int, Field(ge=FILL_CONTEXT)] | None = None
    num_keep: Annotated[int, Field(ge=-1)] | None = None
    seed: int | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_k: Annotated[int, Field(ge=0, le=1000)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    min_p: Annotated[float, Field(ge=0, le=1)] | None = None
    typical_p: Annotated[float, Field(ge=0, le=1)] | None = None
    tfs_z: Annotated[float, Field(ge=0, le=10)] | None = None
    repeat_last_n: Annotated[int, Field(ge=-1, le=65536)] | None = None
    repeat_penalty: Annotated[float, Field(ge=0, le=10)] | None = None
    presence_penalty: Annotated[float, Field(ge=-2, le=2)] | None = None
    frequency_penalty: Annotated[float, Field(ge=-2, le=2)] | None = None
    penalize_newline: StrictBool | None = None
    mirostat: Literal[0, 1, 2] | None = None
    mirostat_tau: Annotated[float, Field(ge=0, le=20)] | None = None
    mirostat_eta: Annotated[float, Field(ge=0, le=1)] | None = None
    stop: Stop = None


class NativeMessage(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None


class _Native(_Strict):
    model: Annotated[str, Field(max_length=256)] | None = None
    options: Options | None = None
    stream: StrictBool | None = None
    format: Literal["json"] | JsonObject | None = None
    think: StrictBool | Literal["low", "medium", "high"] | None = None


class Chat(_Native):
    messages: Annotated[list[NativeMessage], Field(max_length=MAX_MESSAGES)]
    tools: Annotated[list[JsonObject], Field(max_length=MAX_TOOLS)] | None = None


class Generate(_Native):
    prompt: str | None = None
    suffix: str | None = None
    system: str | None = None
    template: str | None = None
    raw: StrictBool | None = None
    images: Annotated[list[str], Field(max_length=16)] | None = None
    context: Annotated[list[int], Field(max_length=1 << 20)] | None = None


class Embed(_Strict):
    model: Annotated[str, Field(max_length=256)] | None = None
    input: str | Annotated[list[str], Field(max_length=MAX_INPUTS)]
    truncate: StrictBool | None = None
    dimensions: Annotated[int, Field(ge=1, le=65536)] | None = None
    options: Options | None = None


class Show(_Strict):
    model: Annotated[str, Field(max_length=256)] | None = None
    name: Annotated[str, Field(max_length=256)] | None = None
    verbose: StrictBool | None = None


NATIVE_SCHEMAS: dict[str, type[BaseModel]] = {
    "chat": Chat, "generate": Generate, "embed": Embed, "show": Show}


STREAMING_ROUTES = frozenset({"chat", "generate"})


def native_body(route: str, raw: bytes, model: str, context_size: int) -> tuple[bytes, bool]:
    """``raw`` checked for ``/api/<route>`` and pinned to ``model``, and whether the answer
    streams (Ollama streams chat and generate unless ``"stream": false``); ``InvalidRequest``
    (400) naming the field at fault otherwise."""
    body = decode_object(raw)
    try:
        NATIVE_SCHEMAS[route].model_validate(body)
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
