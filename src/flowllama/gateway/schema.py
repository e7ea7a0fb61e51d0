"""The allow-list of OpenAI request fields the gateway forwards, with their bounds.

Each ``/v1`` body is checked against one of :data:`SCHEMAS` before it is routed: a field not
listed is refused with a 400 naming it (as OpenAI does, "Unrecognized request argument"), so
nothing that configures or redirects the runtime — llama.cpp's ``grammar``, LiteLLM-style
``api_base``/``base_url``/``custom_llm_provider``/``extra_headers``, Ollama's ``options``/
``num_ctx`` — ever reaches it. Listed fields are bounded so that one request cannot make a
runtime do unbounded work (``n``, ``stop``, ``tools``, ``logit_bias``, ``messages``); the bound
that depends on the deployment (``max_tokens`` within its context) is checked after routing
(:func:`check_max_tokens`). Free-form JSON (tool parameter schemas, ``response_format``) is
bounded in depth and size. The checked body is forwarded as the client sent it.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from flowllama.errors import ClientError

MAX_N = 4
MAX_STOP = 16
MAX_STOP_CHARS = 256
MAX_TOOLS = 128
MAX_TOOL_BYTES = 16 * 1024
MAX_LOGIT_BIAS = 300
MAX_MESSAGES = 2048
MAX_PARTS = 256
MAX_INPUTS = 2048
MAX_JSON_DEPTH = 32
MAX_TOKENS_CEILING = 1 << 20  # above any context size: the deployment's bound comes later


class InvalidRequest(ClientError):
    """A ``/v1`` body OpenAI would refuse: 400 ``invalid_request_error`` naming the field."""

    status_code = 400
    code = "invalid_request"


def json_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """How deeply ``value`` nests (a scalar is 0); stops counting past ``limit``."""
    depth, level = 0, [value]
    while depth <= limit:
        containers = [item for item in level if isinstance(item, dict | list)]
        if not containers:
            break
        depth += 1
        level = [v for c in containers for v in (c.values() if isinstance(c, dict) else c)]
    return depth


def _bounded_json(value: dict[str, Any]) -> dict[str, Any]:
    if json_depth(value) > MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    if len(json.dumps(value, separators=(",", ":"))) > MAX_TOOL_BYTES:
        raise ValueError(f"larger than {MAX_TOOL_BYTES} bytes")
    return value


def _bounded_bias(value: dict[str, float]) -> dict[str, float]:
    for token, bias in value.items():
        if not token.isdigit() or not -100 <= bias <= 100:
            raise ValueError("keys must be token ids and values within -100..100")
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_bounded_json)]
ShortText = Annotated[str, Field(max_length=MAX_STOP_CHARS)]
Stop = ShortText | Annotated[list[ShortText], Field(max_length=MAX_STOP)] | None
LogitBias = Annotated[dict[str, float], Field(max_length=MAX_LOGIT_BIAS),
                      AfterValidator(_bounded_bias)]
TokenIds = Annotated[list[Annotated[int, Field(ge=0)]], Field(max_length=1 << 20)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Open(BaseModel):
    """Sub-objects whose fields OpenAI keeps adding to (content parts): shape checked loosely."""

    model_config = ConfigDict(extra="allow", frozen=True)


class Function(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    description: Annotated[str, Field(max_length=8192)] | None = None
    parameters: JsonObject | None = None
    strict: StrictBool | None = None


class Tool(_Strict):
    type: Literal["function"] = "function"
    function: Function


class ContentPart(_Open):
    type: Annotated[str, Field(max_length=32)]


class ToolCall(_Open):
    id: Annotated[str, Field(max_length=256)] | None = None
    type: Annotated[str, Field(max_length=32)] | None = None


class Message(_Strict):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | Annotated[list[ContentPart], Field(max_length=MAX_PARTS)] | None = None
    name: Annotated[str, Field(max_length=256)] | None = None
    tool_calls: Annotated[list[ToolCall], Field(max_length=MAX_TOOLS)] | None = None
    tool_call_id: Annotated[str, Field(max_length=256)] | None = None
    function_call: JsonObject | None = None
    refusal: str | None = None
    audio: JsonObject | None = None


class StreamOptions(_Strict):
    include_usage: StrictBool | None = None
    include_obfuscation: StrictBool | None = None


class ResponseFormat(_Strict):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonObject | None = None


MaxTokens = Annotated[int, Field(ge=1, le=MAX_TOKENS_CEILING)] | None


class _Sampling(_Strict):
    """What chat and completions share: model, streaming, sampling and their bounds."""

    model: Annotated[str, Field(min_length=1, max_length=256, pattern=r"\S")]
    stream: StrictBool | None = None
    stream_options: StreamOptions | None = None
    max_tokens: MaxTokens = None
    n: Annotated[int, Field(ge=1, le=MAX_N)] | None = None
    stop: Stop = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    presence_penalty: Annotated[float, Field(ge=-2, le=2)] | None = None
    frequency_penalty: Annotated[float, Field(ge=-2, le=2)] | None = None
    logit_bias: LogitBias | None = None
    seed: int | None = None
    user: Annotated[str, Field(max_length=256)] | None = None
    # Sampling knobs llama.cpp and Ollama accept on their OpenAI API: bounded, harmless.
    top_k: Annotated[int, Field(ge=0, le=1000)] | None = None
    min_p: Annotated[float, Field(ge=0, le=1)] | None = None
    repeat_penalty: Annotated[float, Field(ge=0, le=10)] | None = None


class ChatBody(_Sampling):
    messages: Annotated[list[Message], Field(min_length=1, max_length=MAX_MESSAGES)]
    max_completion_tokens: MaxTokens = None
    tools: Annotated[list[Tool], Field(max_length=MAX_TOOLS)] | None = None
    tool_choice: Literal["none", "auto", "required"] | JsonObject | None = None
    parallel_tool_calls: StrictBool | None = None
    functions: Annotated[list[Function], Field(max_length=MAX_TOOLS)] | None = None
    function_call: Literal["none", "auto"] | JsonObject | None = None
    response_format: ResponseFormat | None = None
    logprobs: StrictBool | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    metadata: Annotated[dict[str, Annotated[str, Field(max_length=512)]],
                        Field(max_length=16)] | None = None
    store: StrictBool | None = None
    service_tier: Annotated[str, Field(max_length=32)] | None = None
    reasoning_effort: Annotated[str, Field(max_length=32)] | None = None


class CompletionBody(_Sampling):
    prompt: (str | Annotated[list[str], Field(min_length=1, max_length=MAX_INPUTS)] | TokenIds
             | Annotated[list[TokenIds], Field(min_length=1, max_length=MAX_INPUTS)])
    best_of: Annotated[int, Field(ge=1, le=MAX_N)] | None = None
    echo: StrictBool | None = None
    suffix: str | None = None
    logprobs: Annotated[int, Field(ge=0, le=5)] | None = None


class EmbeddingBody(_Strict):
    model: Annotated[str, Field(min_length=1, max_length=256, pattern=r"\S")]
    input: (str | Annotated[list[str], Field(min_length=1, max_length=MAX_INPUTS)] | TokenIds
            | Annotated[list[TokenIds], Field(min_length=1, max_length=MAX_INPUTS)])
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: Annotated[int, Field(ge=1, le=65536)] | None = None
    user: Annotated[str, Field(max_length=256)] | None = None


SCHEMAS: dict[str, type[BaseModel]] = {
    "messages": ChatBody, "prompt": CompletionBody, "input": EmbeddingBody}


def check_max_tokens(body: dict[str, Any], context_size: int) -> None:
    """Refuse ``max_tokens``/``max_completion_tokens`` beyond the deployment's context
    (``context_size`` 0: not known, no bound)."""
    if context_size <= 0:
        return
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and value > context_size:
            raise InvalidRequest(
                f"{name} must be at most {context_size} (this deployment's context size)",
                field=name, code="invalid_value")
