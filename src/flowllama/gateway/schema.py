"""The allow-list of OpenAI request fields the gateway forwards, with their bounds.

Each ``/v1`` body is checked against one of :data:`SCHEMAS` before it is routed: a field not
listed is refused with a 400 naming it (as OpenAI does, "Unrecognized request argument"), so
nothing that configures or redirects the runtime — llama.cpp's ``grammar``, LiteLLM-style
``api_base``/``base_url``/``custom_llm_provider``/``extra_headers``, Ollama's ``options``/
``num_ctx`` — ever reaches it. Listed fields are bounded so that one request cannot make a
runtime do unbounded work (``n``, ``stop``, ``tools``, ``logit_bias``, ``messages``); the bound
that depends on the deployment (``max_tokens`` within its context) is checked after routing
(:func:`check_max_tokens`). Free-form JSON (tool parameter schemas, ``response_format``) is
bounded in depth and size; the JSON schemas among it, which runtimes compile into grammars,
are also bounded where compiling them would hurt the runtime (:mod:`.json_schemas`). The checked
body is forwarded as the client sent it (values
normalised by the check, e.g. ``8.0`` → ``8`` for an integer field).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, NotRequired, Required

from pydantic import AfterValidator, ConfigDict, Field, StrictBool, TypeAdapter, with_config
from typing_extensions import TypedDict

from flowllama.errors import ClientError
from flowllama.gateway.json_schemas import check_grammar_safe

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


def _grammar_safe(value: dict[str, Any]) -> dict[str, Any]:
    check_grammar_safe(value)
    return value


def _grammar_safe_format(value: dict[str, Any]) -> dict[str, Any]:
    # OpenAI's ``json_schema`` is {"name", "schema", "strict"}: pointers start at "schema".
    check_grammar_safe(value.get("schema"))
    return value


def _bounded_bias(value: dict[str, float]) -> dict[str, float]:
    for token, bias in value.items():
        if not token.isdigit() or not -100 <= bias <= 100:
            raise ValueError("keys must be token ids and values within -100..100")
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_bounded_json)]
JsonSchema = Annotated[dict[str, Any], AfterValidator(_bounded_json),
                       AfterValidator(_grammar_safe)]
ShortText = Annotated[str, Field(max_length=MAX_STOP_CHARS)]
Stop = ShortText | Annotated[list[ShortText], Field(max_length=MAX_STOP)] | None
LogitBias = Annotated[dict[str, float], Field(max_length=MAX_LOGIT_BIAS),
                      AfterValidator(_bounded_bias)]
TokenIds = Annotated[list[Annotated[int, Field(ge=0)]], Field(max_length=1 << 20)]


STRICT = ConfigDict(extra="forbid")
OPEN = ConfigDict(extra="allow")  # sub-objects OpenAI keeps adding fields to: shape checked


@with_config(STRICT)
class Function(TypedDict):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    description: NotRequired[Annotated[str, Field(max_length=8192)] | None]
    parameters: NotRequired[JsonSchema | None]
    strict: NotRequired[StrictBool | None]


@with_config(STRICT)
class Tool(TypedDict):
    type: NotRequired[Literal["function"]]
    function: Function


@with_config(OPEN)
class ContentPart(TypedDict):
    type: Annotated[str, Field(max_length=32)]


@with_config(OPEN)
class ToolCall(TypedDict, total=False):
    id: Annotated[str, Field(max_length=256)] | None
    type: Annotated[str, Field(max_length=32)] | None


@with_config(STRICT)
class Message(TypedDict, total=False):
    role: Required[Literal["system", "developer", "user", "assistant", "tool", "function"]]
    content: str | Annotated[list[ContentPart], Field(max_length=MAX_PARTS)] | None
    name: Annotated[str, Field(max_length=256)] | None
    tool_calls: Annotated[list[ToolCall], Field(max_length=MAX_TOOLS)] | None
    tool_call_id: Annotated[str, Field(max_length=256)] | None
    function_call: JsonObject | None
    refusal: str | None
    audio: JsonObject | None


@with_config(STRICT)
class StreamOptions(TypedDict, total=False):
    include_usage: StrictBool | None
    include_obfuscation: StrictBool | None


@with_config(STRICT)
class ResponseFormat(TypedDict):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: NotRequired[Annotated[dict[str, Any], AfterValidator(_bounded_json),
                                       AfterValidator(_grammar_safe_format)] | None]


MaxTokens = Annotated[int, Field(ge=1, le=MAX_TOKENS_CEILING)] | None
Model = Annotated[str, Field(min_length=1, max_length=256, pattern=r"\S")]


@with_config(STRICT)
class _Sampling(TypedDict, total=False):
    """What chat and completions share: model, streaming, sampling and their bounds."""

    model: Required[Model]
    stream: StrictBool | None
    stream_options: StreamOptions | None
    max_tokens: MaxTokens
    n: Annotated[int, Field(ge=1, le=MAX_N)] | None
    stop: Stop
    temperature: Annotated[float, Field(ge=0, le=2)] | None
    top_p: Annotated[float, Field(ge=0, le=1)] | None
    presence_penalty: Annotated[float, Field(ge=-2, le=2)] | None
    frequency_penalty: Annotated[float, Field(ge=-2, le=2)] | None
    logit_bias: LogitBias | None
    seed: int | None
    user: Annotated[str, Field(max_length=256)] | None
    # Sampling knobs llama.cpp and Ollama accept on their OpenAI API: bounded, harmless.
    top_k: Annotated[int, Field(ge=0, le=1000)] | None
    min_p: Annotated[float, Field(ge=0, le=1)] | None
    repeat_penalty: Annotated[float, Field(ge=0, le=10)] | None


@with_config(STRICT)
class ChatBody(_Sampling, total=False):
    messages: Required[Annotated[list[Message], Field(min_length=1, max_length=MAX_MESSAGES)]]
    max_completion_tokens: MaxTokens
    tools: Annotated[list[Tool], Field(max_length=MAX_TOOLS)] | None
    tool_choice: Literal["none", "auto", "required"] | JsonObject | None
    parallel_tool_calls: StrictBool | None
    functions: Annotated[list[Function], Field(max_length=MAX_TOOLS)] | None
    function_call: Literal["none", "auto"] | JsonObject | None
    response_format: ResponseFormat | None
    logprobs: StrictBool | None
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None
    metadata: Annotated[dict[str, Annotated[str, Field(max_length=512)]],
                        Field(max_length=16)] | None
    store: StrictBool | None
    service_tier: Annotated[str, Field(max_length=32)] | None
    reasoning_effort: Annotated[str, Field(max_length=32)] | None


Inputs = (str | Annotated[list[str], Field(min_length=1, max_length=MAX_INPUTS)] | TokenIds
          | Annotated[list[TokenIds], Field(min_length=1, max_length=MAX_INPUTS)])


@with_config(STRICT)
class CompletionBody(_Sampling, total=False):
    prompt: Required[Inputs]
    best_of: Annotated[int, Field(ge=1, le=MAX_N)] | None
    echo: StrictBool | None
    suffix: str | None
    logprobs: Annotated[int, Field(ge=0, le=5)] | None


@with_config(STRICT)
class EmbeddingBody(TypedDict, total=False):
    model: Required[Model]
    input: Required[Inputs]
    encoding_format: Literal["float", "base64"] | None
    dimensions: Annotated[int, Field(ge=1, le=65536)] | None
    user: Annotated[str, Field(max_length=256)] | None


# Validating straight from the bytes is one pass that yields the body as plain dicts (no model
# objects): cheaper than json.loads alone, so the allow-list costs the hot path nothing.
SCHEMAS: dict[str, TypeAdapter[Any]] = {
    "messages": TypeAdapter(ChatBody), "prompt": TypeAdapter(CompletionBody),
    "input": TypeAdapter(EmbeddingBody)}


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
