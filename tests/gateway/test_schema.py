"""The ``/v1`` allow-list: every case of issue 17 is refused with a 400 naming the field;
ordinary OpenAI bodies (tools, response formats, content parts) pass unchanged; JSON schemas a
runtime would compile into a grammar it cannot survive are refused, recursive ones and those at
the caps pass."""

from __future__ import annotations

import json
from typing import Any

import pytest

from flowllama.gateway.json_schemas import MAX_PATTERN_CHARS, MAX_REPEAT
from flowllama.gateway.requests import parse
from flowllama.gateway.schema import InvalidRequest, check_max_tokens, json_depth

MESSAGES = [{"role": "user", "content": "hi"}]
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}


def _refused(body: dict[str, Any], main: str = "messages") -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        parse(json.dumps(body).encode(), main)
    assert caught.value.status_code == 400
    return caught.value


@pytest.mark.parametrize(("extra", "param", "code"), [
    ({"grammar": "root ::= ((("}, "grammar", "unknown_parameter"),
    ({"api_base": "http://169.254.169.254"}, "api_base", "unknown_parameter"),
    ({"base_url": "http://evil.example"}, "base_url", "unknown_parameter"),
    ({"custom_llm_provider": "openai"}, "custom_llm_provider", "unknown_parameter"),
    ({"extra_headers": {"x": "y"}}, "extra_headers", "unknown_parameter"),
    ({"options": {"num_ctx": 1000000}}, "options", "unknown_parameter"),
    ({"num_ctx": 1000000}, "num_ctx", "unknown_parameter"),
    ({"n_ctx": 1000000}, "n_ctx", "unknown_parameter"),
    ({"max_tokens": 1e9}, "max_tokens", "invalid_value"),
    ({"max_completion_tokens": 10**9}, "max_completion_tokens", "invalid_value"),
    ({"n": 100}, "n", "invalid_value"),
    ({"stop": ["x"] * 10_000}, "stop", "invalid_value"),
    ({"stop": "x" * 10_000}, "stop", "invalid_value"),
    ({"tools": [TOOL] * 1000}, "tools", "invalid_value"),
    ({"logit_bias": {str(i): 1 for i in range(1000)}}, "logit_bias", "invalid_value"),
    ({"logit_bias": {"a": 1}}, "logit_bias", "invalid_value"),
    ({"temperature": 5}, "temperature", "invalid_value"),
    ({"stream": "yes"}, "stream", "invalid_value"),
    ({"stream_options": {"include_usage": True, "x": 1}}, "stream_options.x",
     "unknown_parameter"),
])
def test_issue_17_cases_are_refused_naming_the_field(extra: dict[str, Any], param: str,
                                                       code: str) -> None:
    refused = _refused({"model": "bot", "messages": MESSAGES, **extra})
    assert (refused.field, refused.code) == (param, code)
    if code == "unknown_parameter":
        assert refused.message == f"Unrecognized request argument supplied: {param}"


@pytest.mark.parametrize(("body", "param"), [
    ({"messages": MESSAGES}, "model"),
    ({"model": " ", "messages": MESSAGES}, "model"),
    ({"model": "m"}, "messages"),
    ({"model": "m", "messages": []}, "messages"),
    ({"model": "m", "messages": [{}]}, "messages.0.role"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}] * 5000}, "messages"),
    ({"model": "m", "messages": [{"role": "user", "content": "x", "grammar": "g"}]},
     "messages.0.grammar"),
])
def test_bad_chat_bodies_name_the_field(body: dict[str, Any], param: str) -> None:
    assert _refused(body).field == param


def test_deep_json_is_a_400_not_an_error() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse(b"[" * 100_000 + b"]" * 100_000, "messages")
    assert caught.value.code == "invalid_json"
    deep: Any = {}
    for _ in range(100):
        deep = {"a": deep}
    tool = {"type": "function", "function": {"name": "f", "parameters": deep}}
    refused = _refused({"model": "m", "messages": MESSAGES, "tools": [tool]})
    assert refused.field == "tools.0.function.parameters"


def test_ordinary_openai_bodies_pass_unchanged() -> None:
    body = {"model": "bot", "stream": True, "stream_options": {"include_usage": True},
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "hi"},
                                             {"type": "image_url",
                                              "image_url": {"url": "data:image/png;base64,"}}]},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "c1", "type": "function",
                     "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "42"}],
            "tools": [TOOL], "tool_choice": "auto", "max_tokens": 16, "temperature": 0.2,
            "stop": ["\n"], "n": 1, "seed": 7, "user": "u1", "logit_bias": {"50256": -100},
            "response_format": {"type": "json_schema", "json_schema": {"name": "x"}},
            "top_k": 40, "min_p": 0.05}
    request = parse(json.dumps(body).encode(), "messages")
    assert request.body == body and request.stream and request.wants_usage
    assert parse(json.dumps({"model": "m", "prompt": [1, 2, 3], "max_tokens": 4,
                             "echo": False}).encode(), "prompt").model == "m"
    assert parse(json.dumps({"model": "e", "input": ["a", "b"],
                             "encoding_format": "float"}).encode(), "input").model == "e"


def test_completions_and_embeddings_have_their_own_allow_lists() -> None:
    assert _refused({"model": "m", "prompt": "p", "messages": MESSAGES}, "prompt").field \
        == "messages"
    assert _refused({"model": "m", "prompt": "p", "n": 100}, "prompt").field == "n"
    assert _refused({"model": "m", "input": "x", "max_tokens": 3}, "input").field \
        == "max_tokens"
    assert _refused({"model": "m", "input": ["x"] * 5000}, "input").field == "input"


def test_max_tokens_within_the_deployments_context() -> None:
    check_max_tokens({"max_tokens": 512}, 512)
    check_max_tokens({"max_tokens": 10**6}, 0)  # context unknown: no bound here
    for name in ("max_tokens", "max_completion_tokens"):
        with pytest.raises(InvalidRequest) as caught:
            check_max_tokens({name: 513}, 512)
        assert caught.value.field == name and "512" in caught.value.message


def test_json_depth() -> None:
    assert json_depth(1) == 0
    assert json_depth({"a": [1, {"b": []}]}) == 4
    assert json_depth([[[[[]]]]], limit=2) == 3  # stops counting past the limit


def _formatted(schema: Any) -> dict[str, Any]:
    return {"model": "m", "messages": MESSAGES, "response_format": {
        "type": "json_schema", "json_schema": {"name": "x", "strict": True, "schema": schema}}}


RECURSIVE = {"$ref": "#/$defs/node", "$defs": {"node": {
    "type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}}}}
AT_THE_CAPS = {"type": "object", "properties": {
    "code": {"type": "string", "pattern": f"^[A-Z]{{2}}-[0-9]{{1,{MAX_REPEAT}}}$"},
    "mail": {"type": "string", "pattern": r"^[a-z]+@[a-z]+[.]com\-\(x\)$"},
    # nested counts whose product is the cap; open-ended and empty-lower-bound counts
    "parts": {"type": "string", "pattern": f"^([a-c]{{1,10}}-){{1,{MAX_REPEAT // 10}}}$"},
    "open": {"type": "string", "pattern": f"^a{{{MAX_REPEAT},}}b{{,{MAX_REPEAT}}}$"},
    "note": {"type": "string", "maxLength": MAX_REPEAT},
    "tags": {"type": "array", "maxItems": MAX_REPEAT, "items": {"$ref": "#/$defs/tag"}}},
    "$defs": {"tag": {"type": "string"}}}


@pytest.mark.parametrize("schema", [
    {"type": "string", "pattern": "((("},  # not a regular expression: llama.cpp cannot compile
    {"type": "string", "pattern": "^a{0,100000}$"},  # 100,000 nested rules: kills the runtime
    {"type": "string", "pattern": "^a{5000}$"},
    {"type": "string", "pattern": "^a{,100000}$"},  # an empty lower bound is 0, not no count
    {"type": "string", "pattern": "^a{5000,}$"},  # 5,000 copies, then a recursive rule
    {"type": "string", "pattern": "^a{ 5000 }$"},  # literal for Python, a count for llama.cpp
    {"type": "string", "pattern": "^(a{1000}){1000}$"},  # nested counts multiply: 10^6
    {"type": "string", "pattern": "^(x{0,999}){0,999}$"},
    {"type": "string", "pattern": "^((ab{10}){10}c){11}$"},  # 1,100 along the deepest path
    {"type": "string", "pattern": "^\\d+$"},  # llama-cpp-python's server dies on \d, \w, \.
    {"type": "string", "pattern": "^a\\.b$"},
    {"type": "string", "pattern": "a" * (MAX_PATTERN_CHARS + 1)},
    {"type": "string", "maxLength": 20000},
    {"type": "array", "minItems": 5000, "items": {"type": "integer"}},
    {"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}},
    {"$ref": "#"},  # refers to itself
    {"$ref": "https://example.com/schema.json"},  # the converter would fetch it
    {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}},
])
def test_schemas_a_runtime_cannot_compile_safely_are_refused(schema: Any) -> None:
    refused = _refused(_formatted(schema))
    assert refused.field == "response_format.json_schema" and refused.code == "invalid_value"
    tool = {"type": "function", "function": {"name": "f", "parameters": schema}}
    assert _refused({"model": "m", "messages": MESSAGES, "tools": [tool]}).field \
        == "tools.0.function.parameters"


@pytest.mark.parametrize("schema", [RECURSIVE, AT_THE_CAPS])
def test_recursive_schemas_and_schemas_at_the_caps_pass(schema: Any) -> None:
    body = _formatted(schema)
    assert parse(json.dumps(body).encode(), "messages").body == body
