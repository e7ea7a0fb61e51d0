"""Reading the token API's server-sent events."""

from __future__ import annotations

import pytest

from flowllama.client.chat import sse_data


def test_sse_payloads_until_done() -> None:
    lines = [": keep-alive", "", 'data: {"choices": [{"delta": {"content": "Hi"}}]}', "",
             "data:{\"choices\": []}", "data: [DONE]", 'data: {"after": "done"}']
    assert list(sse_data(iter(lines))) == [{"choices": [{"delta": {"content": "Hi"}}]},
                                           {"choices": []}]


def test_a_broken_payload_is_an_error() -> None:
    with pytest.raises(ValueError):
        list(sse_data(iter(["data: {broken"])))
