"""No body makes the gateway answer 5xx: random bytes, random JSON and random OpenAI-shaped
objects sent to every ``/v1`` and ``/ollama`` POST endpoint (hypothesis), against a fake
runtime that answers whatever passes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowllama.db.session import Database
from gateway.conftest import Owner, RunningGateway, add_deployment
from gateway.fake_upstream import FakeUpstream, fake_upstream

PATHS = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings",
         "/ollama/chat/api/chat", "/ollama/chat/api/generate", "/ollama/chat/api/embed",
         "/ollama/chat/api/show"]
FIELDS = ["model", "messages", "prompt", "input", "stream", "max_tokens", "n", "stop", "tools",
          "options", "stream_options", "logit_bias", "response_format", "grammar", "role",
          "content", "num_ctx", "keep_alive", "temperature", "tool_choice"]

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=4),
    max_leaves=30)
openai_like = st.fixed_dictionaries(
    {"model": st.sampled_from(["bot", "chat", "fake:1b", ""]) | scalars},
    optional={name: json_values for name in FIELDS if name != "model"})
deep = st.integers(1, 200_000).map(lambda n: b"[" * n + b"]" * n)
bodies = (st.binary(max_size=200) | deep
          | (json_values | openai_like).map(lambda v: json.dumps(v).encode()))


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with fake_upstream() as running:
        yield running


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), body=bodies)
def test_no_body_is_answered_with_a_server_error(
        running_gateway: RunningGateway, fake: FakeUpstream, owner: Owner,
        database: Database, path: str, body: bytes) -> None:
    if not fake.hits.get("setup"):  # one deployment for all examples
        add_deployment(database, owner, "bot", "fast", [fake.instance("a")])
        add_deployment(database, owner, "chat", "fake:1b", [fake.instance("o")],
                       runtime="ollama")
        fake.hits["setup"] = 1
    response = httpx.post(f"{running_gateway.base_url}{path}", content=body, timeout=30,
                          headers={"Authorization": f"Bearer {owner.key}",
                                   "Content-Type": "application/json"})
    assert response.status_code < 500, (response.status_code, response.text, body[:300])
    payload: Any = response.json()  # every answer is JSON, errors included
    assert isinstance(payload, dict)
