"""Token counting: upstream usage when valid, prompt estimates, generated-text chunks."""

from __future__ import annotations

from flowllama.gateway.counting import (
    Usage,
    estimate_prompt_tokens,
    generated_text_chunks,
    usage_of,
)


def test_usage_of_accepts_only_whole_integer_usage() -> None:
    assert usage_of({"usage": {"prompt_tokens": 3, "completion_tokens": 4}}) == Usage(3, 4)
    assert usage_of({"usage": {"prompt_tokens": 3, "total_tokens": 3}}) == Usage(3, 0)
    assert usage_of({"usage": None}) is None
    assert usage_of({"usage": {"prompt_tokens": "3", "completion_tokens": 4}}) is None
    assert usage_of([1]) is None
    assert Usage(3, 4).as_openai() == {"prompt_tokens": 3, "completion_tokens": 4,
                                       "total_tokens": 7}


def test_prompt_estimates() -> None:
    chat = {"messages": [{"role": "system", "content": "x" * 8},
                         {"role": "user", "content": [{"type": "text", "text": "y" * 4}]}]}
    assert estimate_prompt_tokens(chat) == 3 + 2 * 4
    assert estimate_prompt_tokens({"prompt": "abcdefgh"}) == 2
    assert estimate_prompt_tokens({"prompt": ["abcd", "efgh"]}) == 2
    assert estimate_prompt_tokens({}) == 0


def test_generated_text_chunks() -> None:
    assert generated_text_chunks({"choices": [{"delta": {"content": "a"}},
                                              {"delta": {"tool_calls": [{}]}},
                                              {"delta": {"role": "assistant"}},
                                              {"text": "b"}, {"text": ""}, "junk"]}) == 3
    assert generated_text_chunks({"choices": None}) == 0
