"""Request parsing: the body is checked against the allow-list and forwarded as sent, with the
upstream's model and a usage chunk asked for; bad bodies are 400s naming the field."""

from __future__ import annotations

import json

import pytest

from flowllama.gateway.requests import parse
from flowllama.gateway.schema import InvalidRequest

MESSAGES = [{"role": "user", "content": "x"}]


def test_upstream_body_sets_the_model_and_asks_for_stream_usage() -> None:
    raw = json.dumps({"model": "bot", "messages": MESSAGES, "stream": True,
                      "temperature": 0.1, "seed": 1}).encode()
    request = parse(raw, "messages")
    assert (request.model, request.stream, request.wants_usage) == ("bot", True, False)
    body = json.loads(request.upstream_body("local/tiny"))
    assert body["model"] == "local/tiny" and body["seed"] == 1
    assert body["stream_options"] == {"include_usage": True}
    plain = parse(json.dumps({"model": "m", "prompt": "p"}).encode(), "prompt")
    assert "stream_options" not in json.loads(plain.upstream_body("m"))


def test_client_usage_request_is_seen() -> None:
    raw = json.dumps({"model": "m", "messages": MESSAGES, "stream": True,
                      "stream_options": {"include_usage": True}}).encode()
    assert parse(raw, "messages").wants_usage


@pytest.mark.parametrize(("body", "field"), [
    ({"messages": MESSAGES}, "model"),
    ({"model": " ", "messages": MESSAGES}, "model"),
    ({"model": "m"}, "messages"),
    ({"model": "m", "messages": []}, "messages"),
    ({"model": "m", "messages": MESSAGES, "stream": 1}, "stream"),
    ({"model": "m", "messages": MESSAGES, "stream_options": 1}, "stream_options"),
    ({"model": "m", "messages": MESSAGES, "future_param": [1]}, "future_param"),
])
def test_bad_bodies_name_the_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse(json.dumps(body).encode(), "messages")
    assert caught.value.field == field and caught.value.status_code == 400


@pytest.mark.parametrize("raw", [b"", b"{", b"[1]", b"null", b"[" * 50_000, b"\xff\xfe"])
def test_not_an_object_is_invalid_json(raw: bytes) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse(raw, "messages")
    assert caught.value.code == "invalid_json"
