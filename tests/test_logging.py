"""Structured JSON logs; no secret survives a full account flow."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from factories import STRONG_PASSWORD, work_the_mail_queues
from flowllama.logging import configure_logging, get_logger
from flowllama.platform import Platform


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_lines_are_json_with_context(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(role="api", level="debug")
    get_logger("t").info("hello", user_id="u1", password="nope-nope")
    (line,) = _lines(capsys.readouterr().out)
    assert line["event"] == "hello"
    assert line["role"] == "api"
    assert line["level"] == "info"
    assert "timestamp" in line
    assert line["password"] == "[REDACTED]"


def test_access_log_fields(client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(role="api", level="info")
    client.get("/health", headers={"X-Request-ID": "rid-1"})
    access = [entry for entry in _lines(capsys.readouterr().out)
              if entry["event"] == "http.request"]
    assert access
    entry = access[-1]
    assert entry["request_id"] == "rid-1"
    assert entry["method"] == "GET"
    assert entry["path"] == "/health"
    assert entry["status"] == 200
    assert isinstance(entry["duration_ms"], float)


def _reset_token(outbox: Path) -> str:
    text = next(outbox.glob("*.eml")).read_text()
    match = re.search(r"token=([A-Za-z0-9_\-]+)", text)
    assert match
    return match.group(1)


def test_no_secret_in_logs_over_full_flow(
    client: TestClient, platform: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(role="api", level="debug")
    email = "grace@example.com"
    new_password = "another strong passphrase"
    client.post("/api/auth/register", json={"email": email, "password": STRONG_PASSWORD})
    tokens = client.post("/api/auth/login",
                         json={"email": email, "password": STRONG_PASSWORD}).json()
    client.post("/api/auth/login", json={"email": email, "password": "wrong password 1"})
    rotated = client.post("/api/auth/refresh",
                          json={"refresh_token": tokens["refresh_token"]}).json()
    client.get("/api/auth/me", headers={"Authorization": f"Bearer {rotated['access_token']}"})
    client.post("/api/auth/password-reset/request", json={"email": email})
    work_the_mail_queues(platform)
    reset = _reset_token(platform.settings.data_dir / "outbox")
    client.post("/api/auth/password-reset/confirm",
                json={"token": reset, "new_password": new_password})
    output = capsys.readouterr()
    logs = output.err + output.out
    assert "http.request" in logs
    secrets = [STRONG_PASSWORD, new_password, "wrong password 1", reset, *tokens.values(),
               *rotated.values()]
    for secret in secrets:
        if isinstance(secret, str) and len(secret) > 8:
            assert secret not in logs
