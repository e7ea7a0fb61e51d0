"""The CLI against a real API app in this process: its HTTP client is bound to the app (no
socket), its config dir is the test's own."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from factories import STRONG_PASSWORD
from flowllama.cli import app
from flowllama.client import api
from flowllama.logging import redirected_output

URL = "http://testserver"


@dataclass
class Cli:
    """Runs ``flowllama ...`` in-process against the test app."""

    runner: CliRunner
    config_dir: Path

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(app, [*args], input=input, catch_exceptions=False)

    def json(self, *args: str) -> Any:
        result = self(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def login(self, email: str = "ada@example.com", password: str = STRONG_PASSWORD) -> Result:
        return self("login", "--url", URL, "--email", email, "--password-stdin",
                    input=password + "\n")


class _Shared:
    """The test's TestClient, which the CLI may "close" after each command."""

    def __init__(self, client: TestClient) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def close(self) -> None:
        """The fixture closes the TestClient, not each command."""


@pytest.fixture
def cli(client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    config_dir = tmp_path / "config"
    monkeypatch.setenv("FLOWLLAMA_CONFIG_DIR", str(config_dir))
    monkeypatch.delenv("FLOWLLAMA_URL", raising=False)
    monkeypatch.delenv("FLOWLLAMA_API_KEY", raising=False)
    # The CLI's HTTP client is the app's TestClient (an httpx.Client): the real app, no socket.
    monkeypatch.setattr(api, "make_http", lambda _base_url: cast(httpx.Client, _Shared(client)))
    # The app shares this process: its log lines go to stderr, not into the CLI's stdout.
    with redirected_output(sys.__stderr__):
        yield Cli(CliRunner(), config_dir)
