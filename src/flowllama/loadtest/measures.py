"""What one LLM request measured, and the figures a run reports from many of them.

A streamed request is timed from just before it is sent (``t0``) with a monotonic clock:

* **TTFT**, time to first token: ``t0`` → the first chunk that carries output text;
* **ITL**, inter-token latency: the gaps between successive text chunks (llama.cpp and Ollama
  send one token per chunk, so each gap is one token's latency as a client sees it);
* **end-to-end**: ``t0`` → the end of the stream;
* **TPOT**, time per output token after the first: ``(e2e - TTFT) / (output_tokens - 1)``;
* **output tokens/s** of the request: ``output_tokens / e2e``.

``output_tokens`` is the server's own count where it sends one (``usage.completion_tokens`` in
the last chunk of an OpenAI stream asked for with ``stream_options.include_usage``;
``eval_count`` in Ollama's final line), else the number of text chunks. A non-streamed request
has only end-to-end and output tokens; its first token reaches the client with the whole
answer, so it meets the TTFT target only if its end-to-end time does.

Pure functions and plain data: no Locust, no I/O, so the summary can be tested directly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

PERCENTILES = (("p50", 0.50), ("p90", 0.90), ("p95", 0.95), ("p99", 0.99))


@dataclass
class LlmSample:
    """One successful LLM request: its endpoint name and what it measured (milliseconds)."""

    name: str
    e2e_ms: float
    output_tokens: int
    ttft_ms: float | None = None
    itl_ms: list[float] = field(default_factory=list)

    @property
    def tpot_ms(self) -> float | None:
        """Time per output token after the first; ``None`` without a stream or a 2nd token."""
        if self.ttft_ms is None or self.output_tokens < 2:
            return None
        return (self.e2e_ms - self.ttft_ms) / (self.output_tokens - 1)

    @property
    def tokens_per_s(self) -> float | None:
        """Output tokens per second of this request, over its end-to-end time."""
        if self.e2e_ms <= 0 or self.output_tokens <= 0:
            return None
        return self.output_tokens / (self.e2e_ms / 1000)

    def is_good(self, ttft_target_ms: float, tpot_target_ms: float) -> bool:
        """Meets both targets (a figure that does not exist cannot miss its target)."""
        first = self.ttft_ms if self.ttft_ms is not None else self.e2e_ms
        tpot = self.tpot_ms
        return first <= ttft_target_ms and (tpot is None or tpot <= tpot_target_ms)


class StreamClock:
    """Times one stream: call :meth:`text` at each chunk with output, :meth:`done` at the end."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.first: float | None = None
        self.last: float | None = None
        self.gaps_ms: list[float] = []
        self.chunks = 0

    def text(self, now: float) -> None:
        """A chunk that carries output text arrived at ``now`` (monotonic seconds)."""
        if self.first is None:
            self.first = now
        elif self.last is not None:
            self.gaps_ms.append((now - self.last) * 1000)
        self.last = now
        self.chunks += 1

    def sample(self, name: str, ended: float, server_tokens: int | None) -> LlmSample:
        """The finished stream as a sample; the server's token count wins over chunks."""
        tokens = server_tokens if server_tokens is not None else self.chunks
        ttft = (self.first - self.started) * 1000 if self.first is not None else None
        return LlmSample(name, (ended - self.started) * 1000, tokens, ttft, self.gaps_ms)


def finite(value: float | None) -> float | None:
    """``value`` rounded to 3 places, or ``None`` if missing, NaN or infinite (JSON-safe)."""
    if value is None or not math.isfinite(value):
        return None
    return round(value, 3)


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50/p90/p95/p99 by nearest rank; all ``None`` for no values."""
    ordered = sorted(values)
    out: dict[str, float | None] = {}
    for label, q in PERCENTILES:
        if not ordered:
            out[label] = None
            continue
        rank = max(1, math.ceil(q * len(ordered)))
        out[label] = finite(ordered[rank - 1])
    return out


def mean(values: Sequence[float]) -> float | None:
    return finite(sum(values) / len(values)) if values else None


def llm_figures(samples: Sequence[LlmSample], requests: int, duration_s: float,
                ttft_target_ms: float, tpot_target_ms: float) -> dict[str, object]:
    """The LLM fields of one endpoint in ``summary.json`` from its successful samples.

    ``requests`` counts failures too, so ``goodput_ratio`` is good requests / all requests."""
    tokens = sum(s.output_tokens for s in samples)
    rates = [r for s in samples if (r := s.tokens_per_s) is not None]
    good = sum(1 for s in samples if s.is_good(ttft_target_ms, tpot_target_ms))
    return {
        "ttft_ms": percentiles([s.ttft_ms for s in samples if s.ttft_ms is not None]),
        "itl_ms": percentiles([gap for s in samples for gap in s.itl_ms]),
        "tpot_ms": percentiles([t for s in samples if (t := s.tpot_ms) is not None]),
        "e2e_ms": percentiles([s.e2e_ms for s in samples]),
        "output_tokens": tokens,
        "output_tokens_per_s_per_request": {"p50": percentiles(rates)["p50"],
                                            "mean": mean(rates)},
        "output_tokens_per_s": finite(tokens / duration_s) if duration_s > 0 else None,
        "goodput_rps": finite(good / duration_s) if duration_s > 0 else None,
        "goodput_ratio": finite(good / requests) if requests else None,
    }


def usd_per_million_tokens(usd_per_hour: float | None, tokens_per_s: float | None
                           ) -> float | None:
    """$ per 1M output tokens = $/h / (tokens/s * 3600) * 1e6.

    ``None`` when no tokens were produced (a division by zero is not a price) or the price is
    unknown; ``0.0`` when the hour is free (the UI says "free")."""
    if not tokens_per_s or usd_per_hour is None:
        return None
    if usd_per_hour == 0:
        return 0.0
    return finite(usd_per_hour / (tokens_per_s * 3600) * 1e6)
