"""The settings of one load test, their limits, and parsing of the CLI's text forms.

A load test spends the target's tokens and the machine's CPU, so duration and users are
bounded (:data:`MAX_DURATION_S`, :data:`MAX_USERS`): a caller cannot turn the platform against
itself. Every refusal is :class:`InvalidInput` naming the field.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from flowllama.errors import InvalidInput

MAX_DURATION_S = 3600
MAX_USERS = 64
MAX_SPAWN_RATE = 64.0
MAX_MAX_TOKENS = 4096
GROUPS = ("backend", "ollama", "tokenapi")
DEFAULT_WEIGHTS = {"backend": 1, "ollama": 1, "tokenapi": 2}
DEFAULT_PROMPTS = (
    "Explain in two sentences what a load balancer does.",
    "Write a haiku about autumn rain.",
    "List three uses of a hash map.",
    "What is the capital of France? Answer briefly.",
    "Summarise the plot of Hamlet in one paragraph.",
)


@dataclass
class LoadtestConfig:
    """One load test: the target's URLs and credentials, load shape, targets and price.

    A group without its URL (``api_url`` for backend, ``ollama_url``, ``token_api_url``) or
    with weight 0 does not run. ``price_per_hour`` ``None`` means unknown ($/1M is null)."""

    target_name: str
    api_url: str | None = None
    ollama_url: str | None = None
    token_api_url: str | None = None
    model: str | None = None
    api_key: str | None = field(default=None, repr=False)
    email: str | None = None
    password: str | None = field(default=None, repr=False)
    duration_s: float = 300
    users: int = 4
    spawn_rate: float = 1
    weights: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    prompts: list[str] = field(default_factory=lambda: list(DEFAULT_PROMPTS))
    max_tokens: int = 64
    ttft_target_ms: float = 2000
    tpot_target_ms: float = 200
    price_per_hour: float | None = None
    price_source: str | None = None

    def active_weights(self) -> dict[str, int]:
        """The groups that run: weight above 0 and a URL to run against."""
        urls = {"backend": self.api_url, "ollama": self.ollama_url,
                "tokenapi": self.token_api_url}
        return {g: w for g, w in self.weights.items() if w > 0 and urls.get(g)}

    def validate(self) -> None:
        """Refuses a config that cannot run or exceeds the limits."""
        _check_range("duration", self.duration_s, 1, MAX_DURATION_S)
        _check_range("users", self.users, 1, MAX_USERS)
        _check_range("spawn_rate", self.spawn_rate, 0.01, MAX_SPAWN_RATE)
        _check_range("max_tokens", self.max_tokens, 1, MAX_MAX_TOKENS)
        _check_range("ttft_target_ms", self.ttft_target_ms, 1, 600_000)
        _check_range("tpot_target_ms", self.tpot_target_ms, 1, 600_000)
        if self.price_per_hour is not None:
            _check_range("price_per_hour", self.price_per_hour, 0, 10_000)
        if not self.prompts:
            raise InvalidInput("the prompt set is empty", field="prompts")
        if not self.active_weights():
            raise InvalidInput("nothing to run: give --api-url, --ollama-url or --token-api-url "
                               "(or --deployment) with a weight above 0", field="weights")
        if ({"ollama", "tokenapi"} & set(self.active_weights())) and not self.api_key:
            raise InvalidInput("the Ollama and token API users need an API key (--api-key or "
                               "FLOWLLAMA_LOADTEST_API_KEY)", field="api_key")
        if "tokenapi" in self.active_weights() and not self.model:
            raise InvalidInput("the token API users need --model", field="model")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadtestConfig:
        return cls(**data)


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be between {low:g} and {high:g}, not {value:g}",
                           field=name)


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``5m``, ``1h``, ``1m30s`` → seconds."""
    match = re.fullmatch(r"\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*", text)
    if not text.strip() or match is None:
        raise InvalidInput(f"duration {text!r}: use e.g. 20s, 5m, 1h", field="duration")
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


def parse_weights(text: str) -> dict[str, int]:
    """``backend=1,ollama=0,tokenapi=2`` → weights; groups left out keep their default."""
    weights = dict(DEFAULT_WEIGHTS)
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        if name.strip() not in GROUPS or not value.strip().isdigit():
            raise InvalidInput(f"weight {part!r}: use {'=N,'.join(GROUPS)}=N", field="weights")
        weights[name.strip()] = int(value)
    return weights


def read_prompts(path: Path) -> list[str]:
    """One prompt per non-empty line of ``path`` (UTF-8)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read prompts from {path}: {exc}", field="prompts") from exc
    prompts = [line.strip() for line in lines if line.strip()]
    if not prompts:
        raise InvalidInput(f"{path} holds no prompts", field="prompts")
    return prompts
