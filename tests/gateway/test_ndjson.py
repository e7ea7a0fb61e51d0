"""Metering Ollama answers: the final NDJSON line's counts, whatever the chunking."""

from __future__ import annotations

import json

from flowllama.gateway.counting import Usage
from flowllama.gateway.ndjson import NdjsonMeter


def test_counts_come_from_the_final_line_across_chunks() -> None:
    lines = [{"message": {"content": "a"}, "done": False},
             {"done": True, "prompt_eval_count": 12, "eval_count": 5}]
    data = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    meter = NdjsonMeter()
    for i in range(0, len(data), 5):
        meter.feed(data[i:i + 5])
    assert meter.finish() == Usage(12, 5)


def test_single_json_answers_and_embeddings() -> None:
    meter = NdjsonMeter()
    meter.feed(b'{"embeddings": [[0.1]], "prompt_eval_count": 4}')
    assert meter.finish() == Usage(4, 0)


def test_no_counts_is_zero_and_inexact() -> None:
    meter = NdjsonMeter()
    meter.feed(b'{"error": "boom"}\nnot json with prompt_eval_count\n')
    usage = meter.finish()
    assert (usage.total_tokens, usage.exact) == (0, False)
