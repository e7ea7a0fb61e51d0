"""The Locust users of a FlowLlama load test: backend, Ollama passthrough and token API.

Importing this module imports Locust, which monkey-patches the process for gevent: only the
load-test worker process (:mod:`flowllama.loadtest.worker`) imports it.

Locust's own response time of a streamed request is the time to its headers; each user reads
the stream itself and records an :class:`~flowllama.loadtest.measures.LlmSample` (TTFT, ITL,
end-to-end, output tokens) for every successful LLM request. A stream that breaks, carries an
error, or yields no text is a Locust failure.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from locust import HttpUser, User, between, task

from flowllama.loadtest.config import LoadtestConfig
from flowllama.loadtest.measures import LlmSample, StreamClock

# Endpoint names as they appear in Locust's CSVs and in summary.json: (group, is LLM).
ENDPOINTS: dict[str, tuple[str, bool]] = {
    "GET /health": ("backend", False),
    "POST /api/auth/login": ("backend", False),
    "POST /api/auth/refresh": ("backend", False),
    "GET /api/deployments": ("backend", False),
    "GET /api/pricing/estimate": ("backend", False),
    "GET /api/tags": ("ollama", False),
    "POST /api/generate (stream)": ("ollama", True),
    "POST /api/chat (stream)": ("ollama", True),
    "GET /v1/models": ("tokenapi", False),
    "POST /v1/chat/completions (stream)": ("tokenapi", True),
    "POST /v1/chat/completions": ("tokenapi", True),
}
ESTIMATE_MODEL = "llama3.2:1b"
REQUEST_TIMEOUT_S = 120


class StreamError(Exception):
    """The stream said it failed, or ended without output."""


class FlowLlamaUser(HttpUser):
    """Shared state: the run's config and the list that collects LLM samples."""

    abstract = True
    wait_time = between(0.5, 1.5)
    config: ClassVar[LoadtestConfig]
    samples: ClassVar[list[LlmSample]]

    def key_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key}"}

    def prompt(self) -> str:
        return random.choice(self.config.prompts)  # noqa: S311  (load shape, not security)

    def stream(self, name: str, url: str, body: dict[str, Any],
               read: Callable[[Iterator[bytes], StreamClock], int | None]) -> None:
        """POST ``body`` and read the stream with ``read`` (which returns the server's token
        count, if any); a successful one becomes a sample, anything else a failure."""
        started = time.perf_counter()
        with self.client.post(url, json=body, headers=self.key_headers(), name=name,
                              stream=True, catch_response=True,
                              timeout=REQUEST_TIMEOUT_S) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
                return
            clock = StreamClock(started)
            try:
                tokens = read(response.iter_lines(), clock)
                if clock.chunks == 0:
                    raise StreamError("the stream carried no output text")
            except (StreamError, OSError, ValueError) as exc:
                response.failure(f"stream: {exc}")
                return
            response.success()
            self.samples.append(clock.sample(name, time.perf_counter(), tokens))


def read_sse(lines: Iterator[bytes], clock: StreamClock) -> int | None:
    """An OpenAI chat stream: text chunks timed, ``usage.completion_tokens`` returned."""
    tokens = None
    for raw in lines:
        line = raw.decode()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        chunk = json.loads(data)
        if "error" in chunk:
            raise StreamError(str(chunk["error"])[:200])
        if any((c.get("delta") or {}).get("content") for c in chunk.get("choices") or []):
            clock.text(time.perf_counter())
        if chunk.get("usage"):
            tokens = int(chunk["usage"]["completion_tokens"])
    return tokens


def read_ndjson(lines: Iterator[bytes], clock: StreamClock) -> int | None:
    """An Ollama stream (``generate`` or ``chat``): text lines timed, ``eval_count`` returned."""
    for raw in lines:
        if not raw.strip():
            continue
        chunk = json.loads(raw)
        if "error" in chunk:
            raise StreamError(str(chunk["error"])[:200])
        if chunk.get("response") or (chunk.get("message") or {}).get("content"):
            clock.text(time.perf_counter())
        if chunk.get("done"):
            count = chunk.get("eval_count")
            return int(count) if count is not None else None
    raise StreamError("the stream ended before done")


class BackendUser(FlowLlamaUser):
    """The control plane: health, login and refresh, the deployment list, a price estimate."""

    abstract = True
    tokens: dict[str, str] | None = None

    def on_start(self) -> None:
        if self.config.email and self.config.password:
            self.login()

    def login(self) -> None:
        body = {"email": self.config.email, "password": self.config.password}
        with self.client.post("/api/auth/login", json=body, name="POST /api/auth/login",
                              catch_response=True) as response:
            self.tokens = response.json() if response.status_code == 200 else None

    @task(3)
    def health(self) -> None:
        self.client.get("/health", name="GET /health")

    @task(1)
    def refresh(self) -> None:
        if self.tokens is None:
            return
        body = {"refresh_token": self.tokens["refresh_token"]}
        with self.client.post("/api/auth/refresh", json=body, name="POST /api/auth/refresh",
                              catch_response=True) as response:
            if response.status_code == 200:
                self.tokens = response.json()
            else:
                response.failure(f"HTTP {response.status_code}")
                self.login()  # a refused refresh token is spent: start a new session

    @task(2)
    def deployments(self) -> None:
        if self.tokens is None:
            return
        headers = {"Authorization": f"Bearer {self.tokens['access_token']}"}
        self.client.get("/api/deployments", headers=headers, name="GET /api/deployments")

    @task(1)
    def estimate(self) -> None:
        self.client.get("/api/pricing/estimate", params={"model": ESTIMATE_MODEL},
                        name="GET /api/pricing/estimate")


class OllamaUser(FlowLlamaUser):
    """The native Ollama passthrough: tags, streamed generate and chat."""

    abstract = True

    @task(1)
    def tags(self) -> None:
        self.client.get("/api/tags", headers=self.key_headers(), name="GET /api/tags")

    @task(2)
    def generate(self) -> None:
        body = {"model": self.config.model or "", "prompt": self.prompt(), "stream": True,
                "options": {"num_predict": self.config.max_tokens}}
        self.stream("POST /api/generate (stream)", "/api/generate", body, read_ndjson)

    @task(2)
    def chat(self) -> None:
        body = {"model": self.config.model or "", "stream": True,
                "messages": [{"role": "user", "content": self.prompt()}],
                "options": {"num_predict": self.config.max_tokens}}
        self.stream("POST /api/chat (stream)", "/api/chat", body, read_ndjson)


class TokenApiUser(FlowLlamaUser):
    """The OpenAI-compatible token API: models, streamed and plain chat completions."""

    abstract = True

    def chat_body(self) -> dict[str, Any]:
        return {"model": self.config.model, "max_tokens": self.config.max_tokens,
                "messages": [{"role": "user", "content": self.prompt()}]}

    @task(1)
    def models(self) -> None:
        self.client.get("/models", headers=self.key_headers(), name="GET /v1/models")

    @task(3)
    def chat_stream(self) -> None:
        body = {**self.chat_body(), "stream": True, "stream_options": {"include_usage": True}}
        self.stream("POST /v1/chat/completions (stream)", "/chat/completions", body, read_sse)

    @task(1)
    def chat(self) -> None:
        name = "POST /v1/chat/completions"
        started = time.perf_counter()
        with self.client.post("/chat/completions", json=self.chat_body(), name=name,
                              headers=self.key_headers(), catch_response=True,
                              timeout=REQUEST_TIMEOUT_S) as response:
            ended = time.perf_counter()
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
                return
            try:
                tokens = int(response.json()["usage"]["completion_tokens"])
            except (ValueError, KeyError, TypeError) as exc:
                response.failure(f"no usage in the answer: {exc!r}")
                return
            self.samples.append(LlmSample(name, (ended - started) * 1000, tokens))


def user_classes(config: LoadtestConfig, samples: list[LlmSample]) -> list[type[User]]:
    """Concrete user classes for ``config``'s active groups, with its weights and hosts;
    every LLM sample is appended to ``samples``."""
    bases: dict[str, tuple[type[FlowLlamaUser], str | None]] = {
        "backend": (BackendUser, config.api_url),
        "ollama": (OllamaUser, config.ollama_url),
        "tokenapi": (TokenApiUser, config.token_api_url),
    }
    classes: list[type[User]] = []
    for group, weight in config.active_weights().items():
        base, url = bases[group]
        attributes = {"abstract": False, "weight": weight, "host": (url or "").rstrip("/"),
                      "config": config, "samples": samples}
        classes.append(type(base.__name__, (base,), attributes))
    return classes
