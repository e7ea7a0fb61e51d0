"""Running a real ``flowllama up`` process in a test: start it, wait for it, talk to its API as
a user, always stop it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai

from factories import STRONG_PASSWORD
from flowllama.providers.local.records import LocalRecord, RecordStore
from tiny_model import free_port

TIMEOUT_S = 180


@dataclass(frozen=True)
class UpProcess:
    """A running ``flowllama up``: its base URL, process, data dir and combined output."""

    base_url: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path


def wait_for(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    """Until ``url`` answers 200; fails at once if ``process`` exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"flowllama exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not come up in {timeout_s}s")


@contextmanager
def flowllama_up(tmp_path: Path, env: Mapping[str, str] | None = None) -> Iterator[UpProcess]:
    """``flowllama up`` on a free port and a fresh data dir under ``tmp_path``, with only the
    ``FLOWLLAMA_*`` variables given in ``env``; killed on exit if still running."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLLAMA_")}
    data_dir = tmp_path / "data"
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "flowllama", "up", "--port", str(port),
             "--data-dir", str(data_dir)],
            env={**clean, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(f"{base}/health", process)
            yield UpProcess(base, process, data_dir, log_path)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)


class Api:
    """The user's side of the REST API."""

    def __init__(self, base_url: str, *, register: bool = True) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        email = "e2e@example.com"
        if register:
            assert self.http.post("/api/auth/register", json={
                "email": email, "password": STRONG_PASSWORD}).status_code == 201
        tokens = self.http.post("/api/auth/login", json={
            "email": email, "password": STRONG_PASSWORD}).json()
        self.http.headers["Authorization"] = f"Bearer {tokens['access_token']}"

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        response = self.http.get(f"/api/deployments/{deployment_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait_status(self, deployment_id: str, status: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT_S
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            body = self.deployment(deployment_id)
            if body["status"] == status:
                return body
            assert body["status"] != "failed", body["status_message"]
            time.sleep(0.3)
        raise AssertionError(f"never reached {status}: {body}")

    def act(self, deployment_id: str, action: str) -> None:
        response = self.http.post(f"/api/deployments/{deployment_id}/{action}")
        assert response.status_code == 202, response.text

    def create_key(self) -> str:
        """A new API key for the token API."""
        response = self.http.post("/api/keys", json={"name": "e2e"})
        assert response.status_code == 201, response.text
        key: str = response.json()["key"]
        return key


def wait_answering(deployment: Mapping[str, Any], api_key: str) -> None:
    """Until the gateway gets an answer from ``deployment`` (a relaunched runtime is still
    loading while its row already says ``running``)."""
    body = {"model": deployment["endpoint_model"], "max_tokens": 1,
            "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {api_key}"}
    url = f"{deployment['endpoint_url']}/chat/completions"
    deadline = time.monotonic() + TIMEOUT_S
    status = 0
    while time.monotonic() < deadline:
        status = httpx.post(url, json=body, headers=headers, timeout=60).status_code
        if status == 200:
            return
        time.sleep(0.5)
    raise AssertionError(f"{url} never answered (last HTTP {status})")


def runtime_record(up: UpProcess, deployment_id: str) -> LocalRecord:
    """The local provisioner's record of a deployment's runtime (its port, its process)."""
    record = RecordStore(up.data_dir / "local" / "records").load(deployment_id)
    assert record is not None, f"no runtime record for {deployment_id}"
    return record


def local_env(models_dir: Path, **extra: str) -> dict[str, str]:
    """Settings for a ``flowllama up`` that serves ``models_dir`` with one fast-polling worker."""
    return {"FLOWLLAMA_MODELS_DIR": str(models_dir), "FLOWLLAMA_AGENT__WORKERS": "1",
            "FLOWLLAMA_AGENT__POLL_S": "0.2", **extra}


def chat_with_openai(deployment: Mapping[str, Any], api_key: str) -> None:
    """A plain and a streamed chat completion with the official client, at the endpoint the
    API shows for ``deployment`` (the gateway) with an API key; both must answer."""
    client = openai.OpenAI(base_url=deployment["endpoint_url"], api_key=api_key, max_retries=0,
                           timeout=60)
    model = deployment["endpoint_model"]
    messages: list[Any] = [{"role": "user", "content": "Say hello"}]
    reply = client.chat.completions.create(model=model, messages=messages, max_tokens=8)
    assert reply.choices[0].message.content
    assert reply.usage is not None and reply.usage.completion_tokens == 8
    chunks = list(client.chat.completions.create(model=model, messages=messages, max_tokens=8,
                                                 stream=True))
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text and len(chunks) > 2
