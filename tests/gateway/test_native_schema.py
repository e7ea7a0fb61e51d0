"""The Ollama passthrough's allow-list: the model is pinned to the deployment's, ``options``
carry only sampling knobs, ``num_ctx``/``num_predict`` stay within the context."""

from __future__ import annotations

import json
from typing import Any

import pytest

from flowllama.gateway.native_schema import native_body
from flowllama.gateway.schema import InvalidRequest

CHAT = {"model": "llama3.2:1b", "messages": [{"role": "user", "content": "hi"}]}


def _body(route: str, body: dict[str, Any], context: int = 4096) -> tuple[dict[str, Any], bool]:
    raw, stream = native_body(route, json.dumps(body).encode(), "fake:1b", context)
    return json.loads(raw), stream


def test_the_model_is_pinned_to_the_deployments() -> None:
    body, stream = _body("chat", {**CHAT, "options": {"num_ctx": 2048, "temperature": 0.1}})
    assert body["model"] == "fake:1b" and stream
    assert body["options"] == {"num_ctx": 2048, "temperature": 0.1}
    assert _body("generate", {"model": "other", "prompt": "x", "stream": False}) == (
        {"model": "fake:1b", "prompt": "x", "stream": False}, False)
    assert _body("show", {"name": "other"})[0] == {"model": "fake:1b"}
    assert _body("embed", {"input": ["a"]}) == ({"input": ["a"], "model": "fake:1b"}, False)


@pytest.mark.parametrize(("route", "extra", "param"), [
    ("chat", {"options": {"num_ctx": 1000000}}, "options.num_ctx"),
    ("chat", {"options": {"num_predict": 5000}}, "options.num_predict"),
    ("generate", {"prompt": "x", "options": {"num_ctx": 4097}}, "options.num_ctx"),
    ("chat", {"options": {"num_gpu": 99}}, "options.num_gpu"),
    ("chat", {"options": {"num_thread": 64}}, "options.num_thread"),
    ("chat", {"options": {"use_mmap": False}}, "options.use_mmap"),
    ("chat", {"keep_alive": 0}, "keep_alive"),
    ("chat", {"api_base": "http://x"}, "api_base"),
    ("embed", {"input": "x", "keep_alive": "24h"}, "keep_alive"),
])
def test_configuration_knobs_and_oversized_context_are_refused(
        route: str, extra: dict[str, Any], param: str) -> None:
    base = CHAT if route == "chat" else {"model": "m"}
    with pytest.raises(InvalidRequest) as caught:
        _body(route, {**base, **extra})
    assert caught.value.status_code == 400 and caught.value.field == param


def test_bad_json_is_a_400() -> None:
    for raw in (b"{", b"[1]", b"[" * 100_000):
        with pytest.raises(InvalidRequest):
            native_body("chat", raw, "m", 512)


@pytest.mark.parametrize("pattern", ["^a{0,100000}$", "^a{,100000}$", "^(a{100}){100}$"])
def test_a_format_schema_the_runtime_cannot_compile_safely_is_refused(pattern: str) -> None:
    hostile = {"type": "string", "pattern": pattern}
    with pytest.raises(InvalidRequest) as caught:
        native_body("chat", json.dumps({"model": "x", "messages": [], "format": hostile})
                    .encode(), "m", 512)
    assert caught.value.field == "format"
