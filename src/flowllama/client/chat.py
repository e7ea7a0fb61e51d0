"""``flowllama chat NAME``: a streaming terminal chat with a deployment through the gateway.

It speaks the token API (``POST {endpoint_url}/chat/completions`` with ``stream: true``, read
as server-sent events with httpx), with an API key: ``--api-key``, else ``$FLOWLLAMA_API_KEY``,
else a temporary key made for this chat (allowed only this deployment, expiring in an hour)
and revoked when the chat ends.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
import typer

from flowllama.client import resolve
from flowllama.client.api import ApiClient, ApiError, error_from
from flowllama.client.output import JsonOpt, UrlOpt, api_session, console, emit_json_line, err

API_KEY_ENV = "FLOWLLAMA_API_KEY"
TEMPORARY_KEY_NAME = "flowllama chat (temporary)"
STREAM_TIMEOUT = httpx.Timeout(30.0, read=300.0)
QUIT_WORDS = {"/exit", "/quit"}


@dataclass
class Reply:
    """One streamed answer: its text, how many content chunks carried it, why it ended."""

    text: str = ""
    chunks: int = 0
    finish_reason: str | None = None


def sse_data(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """The JSON payloads of a server-sent event stream, until ``data: [DONE]``."""
    for line in lines:
        if not line.startswith("data:"):
            continue  # blank separators, comments, event names
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        if payload:
            yield json.loads(payload)


def stream_reply(http: httpx.Client, endpoint_url: str, api_key: str, body: dict[str, Any],
                 on_text: Any) -> Reply:
    """Send one streamed chat completion; ``on_text(delta)`` for each piece of text."""
    reply = Reply()
    headers = {"Authorization": f"Bearer {api_key}"}
    url = f"{endpoint_url.rstrip('/')}/chat/completions"
    try:
        with http.stream("POST", url, json={**body, "stream": True}, headers=headers,
                         timeout=STREAM_TIMEOUT) as response:
            if response.status_code >= 400:
                response.read()
                raise error_from(response)
            for event in sse_data(response.iter_lines()):
                for choice in event.get("choices") or []:
                    delta = (choice.get("delta") or {}).get("content")
                    if delta:
                        reply.text += delta
                        reply.chunks += 1
                        on_text(delta)
                    reply.finish_reason = choice.get("finish_reason") or reply.finish_reason
    except httpx.TransportError as exc:
        raise ApiError(0, "unreachable", f"Cannot reach the gateway at {url}: {exc}") from exc
    return reply


def _questions(message: list[str] | None) -> Iterator[str]:
    if message:
        yield from message
        return
    if not sys.stdin.isatty():  # piped: every non-empty line is one turn
        yield from (line.strip() for line in sys.stdin if line.strip())
        return
    console.print("[dim]Chatting; /exit or Ctrl-D to stop.[/]")
    while True:
        try:
            question = console.input("[bold cyan]you>[/] ").strip()
        except EOFError:
            return
        if question in QUIT_WORDS:
            return
        if question:
            yield question


def _temporary_key(client: ApiClient, model: str) -> dict[str, Any]:
    expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    key: dict[str, Any] = client.post("/api/keys", {
        "name": TEMPORARY_KEY_NAME, "models": [model], "expires_at": expires})
    return key


def chat(
    name: Annotated[str, typer.Argument(help="Deployment name or id")],
    message: Annotated[list[str] | None, typer.Option(
        "--message", "-m", help="Ask this and exit (repeatable: one turn each)")] = None,
    system: Annotated[str | None, typer.Option(help="A system prompt")] = None,
    max_tokens: Annotated[int, typer.Option(min=1, help="Most tokens per reply")] = 512,
    api_key: Annotated[str | None, typer.Option(
        "--api-key", help=f"API key for the token API (else ${API_KEY_ENV}, else a temporary "
        "one)")] = None,
    url: UrlOpt = None, as_json: JsonOpt = False,
) -> None:
    """Chat with a deployment in the terminal, replies streamed as they are generated."""
    with api_session(url, as_json) as client:
        deployment = resolve.deployment(client, name)
        secret = api_key or os.environ.get(API_KEY_ENV)
        temporary = None if secret else _temporary_key(client, deployment["endpoint_model"])
        try:
            _converse(client.http, deployment, secret or str(temporary and temporary["key"]),
                      message=message, system=system, max_tokens=max_tokens, as_json=as_json)
        finally:
            if temporary is not None:
                client.delete(f"/api/keys/{temporary['id']}")


def _converse(http: httpx.Client, deployment: dict[str, Any], key: str, *,
              message: list[str] | None, system: str | None, max_tokens: int,
              as_json: bool) -> None:
    history: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
    for question in _questions(message):
        history.append({"role": "user", "content": question})
        body = {"model": deployment["endpoint_model"], "messages": history,
                "max_tokens": max_tokens}
        if as_json:
            reply = stream_reply(http, deployment["endpoint_url"], key, body, lambda _: None)
            emit_json_line({"role": "assistant", "content": reply.text,
                            "chunks": reply.chunks, "finish_reason": reply.finish_reason})
        else:
            console.print("[bold green]assistant>[/] ", end="")
            reply = stream_reply(http, deployment["endpoint_url"], key, body, _write)
            sys.stdout.write("\n")
            if reply.finish_reason == "length":
                err.print(f"[dim](cut at {max_tokens} tokens; --max-tokens for more)[/]")
        history.append({"role": "assistant", "content": reply.text})


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
