"""Plain-ASGI helpers: bounded bodies, error rendering, and cancelling work on disconnect."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from flowllama.errors import PayloadTooLarge, RateLimited
from flowllama.gateway.envelope import render
from flowllama.gateway.wire import (
    Message,
    guarded,
    read_body,
    send_whole,
    until_disconnect,
)


def scope(**headers: str) -> dict[str, Any]:
    return {"type": "http", "headers": [(k.replace("_", "-").encode(), v.encode())
                                        for k, v in headers.items()], "state": {}}


def receiver(*messages: Message) -> Any:
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        await asyncio.Event().wait()  # like a server: nothing more until the client leaves
        raise AssertionError("unreachable")

    return receive


class Sent(list[Message]):
    async def __call__(self, message: Message) -> None:
        self.append(message)


def test_read_body_joins_parts_and_refuses_oversized_bodies() -> None:
    parts = receiver({"body": b"ab", "more_body": True}, {"body": b"cd", "more_body": False})
    assert asyncio.run(read_body(scope(), parts, 10)) == b"abcd"
    with pytest.raises(PayloadTooLarge):  # declared too large: refused before reading
        asyncio.run(read_body(scope(content_length="11"), receiver(), 10))
    with pytest.raises(PayloadTooLarge):  # undeclared, found too large while reading
        asyncio.run(read_body(scope(), receiver({"body": b"x" * 6, "more_body": True},
                                                {"body": b"x" * 6}), 10))


def test_guarded_renders_client_errors_with_their_headers_and_hides_others() -> None:
    async def limited(_send: Any) -> None:
        raise RateLimited("slow down", retry_after=7, code="rate_limit_exceeded")

    async def broken(_send: Any) -> None:
        raise RuntimeError("secret detail")

    sent = Sent()
    asyncio.run(guarded(scope(), sent, limited, render))
    assert sent[0]["status"] == 429 and (b"retry-after", b"7") in sent[0]["headers"]
    assert b'"type":"rate_limit_error"' in sent[1]["body"]
    sent = Sent()
    asyncio.run(guarded(scope(), sent, broken, render))
    assert sent[0]["status"] == 500 and b"secret" not in sent[1]["body"]


def test_an_error_after_the_response_started_sends_nothing_more() -> None:
    async def half(send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RateLimited("late", retry_after=1)

    sent = Sent()
    asyncio.run(guarded(scope(), sent, half, render))
    assert [m["type"] for m in sent] == ["http.response.start"]


def test_until_disconnect_cancels_the_work_when_the_client_leaves() -> None:
    cancelled = asyncio.Event()

    async def scenario() -> bool:
        async def work() -> None:
            try:
                await asyncio.sleep(30)
            finally:
                cancelled.set()

        return await until_disconnect(receiver({"type": "http.disconnect"}), work())

    assert asyncio.run(scenario()) is True and cancelled.is_set()


def test_until_disconnect_lets_finished_work_stand() -> None:
    async def scenario() -> tuple[bool, Sent]:
        sent = Sent()
        gone = await until_disconnect(receiver(), send_whole(sent, 200, b"{}"))
        await asyncio.sleep(0.01)  # the listener is gone: nothing cancels this task later
        return gone, sent

    gone, sent = asyncio.run(scenario())
    assert gone is False and sent[1]["body"] == b"{}"
