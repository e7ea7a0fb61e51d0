"""Token counts of one request: from the upstream's ``usage`` when it gives one, else estimated.

Upstream usage is authoritative (the runtime's own tokenizer, chat template included). When a
runtime does not report usage for a stream (llama.cpp ignores ``stream_options``), completion
tokens are the number of streamed chunks that carry generated text (llama.cpp and Ollama send
one token per chunk), and prompt tokens are estimated from the prompt's characters: four
characters per token plus four per chat message for the template. ``docs/gateway.md`` states
this accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    exact: bool = True

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_openai(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "total_tokens": self.total_tokens}


def usage_of(payload: Any) -> Usage | None:
    """The ``usage`` object of an OpenAI response or chunk, if it has a usable one."""
    if not isinstance(payload, dict):
        return None
    usage = payload.get("usage")
    if not isinstance(usage, dict):
        return None
    # Embeddings report prompt tokens only.
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens", 0)
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return Usage(prompt, completion)


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # content parts, or a batch of prompts
        return "".join(_text_of(part.get("text", "") if isinstance(part, dict) else part)
                       for part in value)
    return ""


def estimate_prompt_tokens(body: dict[str, Any]) -> int:
    """An estimate of a chat or completion request's prompt tokens (see the module doc)."""
    messages = body.get("messages")
    if isinstance(messages, list):
        chars = sum(len(_text_of(m.get("content"))) for m in messages if isinstance(m, dict))
        return math.ceil(chars / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * len(messages)
    return math.ceil(len(_text_of(body.get("prompt"))) / CHARS_PER_TOKEN)


def generated_text_chunks(payload: dict[str, Any]) -> int:
    """How many choices of one streamed chunk carry generated text (chat ``delta.content`` or
    ``delta.tool_calls``, or completion ``text``)."""
    count = 0
    for choice in payload.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        chat = isinstance(delta, dict) and bool(delta.get("content") or delta.get("tool_calls"))
        if chat or choice.get("text"):
            count += 1
    return count
