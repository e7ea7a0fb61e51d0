"""The SSE relay: events forwarded whole as soon as complete (whatever the chunking), usage
chunks dropped or synthesised as the client asked, tokens counted."""

from __future__ import annotations

import json
from typing import Any

from flowllama.gateway.sse import StreamRelay, error_event, sse_event


def _chunk(content: str | None, **extra: Any) -> dict[str, Any]:
    delta = {} if content is None else {"content": content}
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}], **extra}


def _stream(*payloads: dict[str, Any], sep: bytes = b"\n\n") -> bytes:
    events = [b"data: " + json.dumps(p).encode() + sep for p in payloads]
    return b"".join(events) + b"data: [DONE]" + sep


def _events(data: bytes) -> list[Any]:
    out = []
    for block in data.replace(b"\r\n", b"\n").split(b"\n\n"):
        if block.startswith(b"data: "):
            body = block[6:]
            out.append("[DONE]" if body == b"[DONE]" else json.loads(body))
    return out


def test_events_pass_whole_whatever_the_chunking_and_tokens_are_counted() -> None:
    upstream = _stream(_chunk(None), _chunk("he"), _chunk("llo"), _chunk(""), sep=b"\r\n\r\n")
    relay = StreamRelay(client_wants_usage=False, prompt_estimate=7)
    out = b""
    for i in range(0, len(upstream), 7):  # awkward 7-byte pieces
        piece = relay.feed(upstream[i:i + 7])
        assert piece == b"" or piece.endswith(b"\r\n\r\n"), "only whole events go out"
        out += piece
    out += relay.leftover()
    assert out == upstream
    assert relay.finished
    usage = relay.usage()
    assert (usage.prompt_tokens, usage.completion_tokens, usage.exact) == (7, 2, False)


def test_counted_usage_is_added_when_the_client_asked_and_upstream_sent_none() -> None:
    relay = StreamRelay(client_wants_usage=True, prompt_estimate=5)
    events = _events(relay.feed(_stream(_chunk("a"), _chunk("b"), _chunk("c"))))
    assert events[-1] == "[DONE]"
    usage_chunk = events[-2]
    assert usage_chunk["choices"] == [] and usage_chunk["id"] == "c1"
    assert usage_chunk["usage"] == {"prompt_tokens": 5, "completion_tokens": 3,
                                    "total_tokens": 8}


def test_upstream_usage_wins_and_is_dropped_when_not_asked_for() -> None:
    usage = {"prompt_tokens": 30, "completion_tokens": 2, "total_tokens": 32}
    final = {"id": "c1", "object": "chat.completion.chunk", "choices": [], "usage": usage}
    upstream = _stream(_chunk("a"), _chunk("b"), final)
    quiet = StreamRelay(client_wants_usage=False, prompt_estimate=1)
    events = _events(quiet.feed(upstream))
    assert all("usage" not in e for e in events if isinstance(e, dict))
    assert quiet.usage().exact and quiet.usage().prompt_tokens == 30
    asked = StreamRelay(client_wants_usage=True, prompt_estimate=1)
    events = _events(asked.feed(upstream))
    assert [e for e in events if isinstance(e, dict) and e.get("usage")] == [final]


def test_non_json_and_comment_events_pass_unchanged() -> None:
    relay = StreamRelay(client_wants_usage=False, prompt_estimate=0)
    data = b": ping\n\ndata: not json\n\nevent: x\ndata: [1]\n\n"
    assert relay.feed(data) == data
    assert not relay.finished and relay.usage().completion_tokens == 0


def test_completion_text_chunks_count() -> None:
    relay = StreamRelay(client_wants_usage=False, prompt_estimate=0)
    chunk = {"id": "x", "choices": [{"text": "t", "index": 0}]}
    relay.feed(_stream(chunk, chunk, {"id": "x", "choices": [{"text": "", "index": 0}]}))
    assert relay.usage().completion_tokens == 2


def test_event_helpers() -> None:
    assert sse_event({"a": 1}) == b'data: {"a":1}\n\n'
    error = _events(error_event("broke", "upstream_error"))[0]["error"]
    assert error["code"] == "upstream_error" and error["type"] == "server_error"
