"""Relay Ollama's native answers (NDJSON streams or one JSON object) and count their tokens.

Bytes pass through unchanged as they arrive. Each complete line is looked at only if it can
be the final one (``"done"`` in it, or ``prompt_eval_count`` for ``/api/embed``), whose
``prompt_eval_count`` and ``eval_count`` are Ollama's own token counts.
"""

from __future__ import annotations

import json

from flowllama.gateway.counting import Usage


class NdjsonMeter:
    """Counts the tokens in an Ollama answer fed to it chunk by chunk."""

    def __init__(self) -> None:
        self._buffer = b""
        self.usage: Usage | None = None

    def feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            self._line(line)

    def finish(self) -> Usage:
        """The counts (zero when the answer carried none), after the last line."""
        rest, self._buffer = self._buffer, b""
        self._line(rest)
        return self.usage or Usage(0, 0, exact=False)

    def _line(self, line: bytes) -> None:
        if b"prompt_eval_count" not in line and b'"eval_count"' not in line:
            return
        try:
            payload = json.loads(line)
        except ValueError:
            return
        if not isinstance(payload, dict):
            return
        prompt, completion = payload.get("prompt_eval_count", 0), payload.get("eval_count", 0)
        if isinstance(prompt, int) and isinstance(completion, int):
            self.usage = Usage(prompt, completion)
