"""Structured JSON logs; no secret survives a full account flow."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from factories import STRONG_PASSWORD, work_the_mail_queues
from flowllama.logging import MAX_LINE_BYTES, configure_logging, get_logger, redirected_output
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


def test_keys_fluent_bit_owns_or_elasticsearch_rejects_are_renamed(
        capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(role="api")
    get_logger("t").info("renamed", stream=True, log="x", time=1, _id="i",
                         **{"@timestamp": "now", "a.b": 1}, ctx={"k.v": 2, "_p": 3})
    (line,) = _lines(capsys.readouterr().out)
    assert {"app_stream", "app_log", "app_time", "app_id", "app_timestamp", "a_b"} <= set(line)
    assert not {"stream", "log", "time", "_id", "@timestamp", "a.b"} & set(line)
    assert line["ctx"] == {"k_v": 2, "_p": 3}  # below the top, only dots matter


def test_a_long_line_is_cut_to_the_limit_keeping_types_and_the_traceback_end(
        capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(role="api")
    log = get_logger("t")
    try:
        raise ValueError("the real cause " + "x" * (3 * MAX_LINE_BYTES))
    except ValueError:
        log.exception("failed", attempt=2, detail="d" * MAX_LINE_BYTES, ids=list(range(5000)))
    raw = capsys.readouterr().out.strip()
    assert len(raw.encode()) <= MAX_LINE_BYTES
    line = json.loads(raw)
    assert (line["event"], line["attempt"], line["truncated"]) == ("failed", 2, True)
    assert "characters cut" in line["exception"]
    assert line["exception"].rstrip().endswith("x")  # the end of the error line survives
    assert line["ids"] is None or isinstance(line["ids"], list)


def test_a_line_of_many_small_fields_keeps_its_core(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(role="api")
    get_logger("t").info("wide", **{f"field_{n}": n for n in range(3000)})
    raw = capsys.readouterr().out.strip()
    line = json.loads(raw)
    assert len(raw.encode()) <= MAX_LINE_BYTES
    assert (line["event"], line["role"], line["truncated"]) == ("wide", "api", True)


def test_warnings_and_thread_crashes_are_json_lines() -> None:
    """In a process of its own, as a role runs: nothing reaches stderr as plain text."""
    script = (
        "import threading, warnings\n"
        "from flowllama.logging import configure_logging\n"
        "configure_logging(role='agent')\n"
        "warnings.warn('old knob', DeprecationWarning, stacklevel=1)\n"
        "def die():\n"
        "    raise RuntimeError('thread died')\n"
        "worker = threading.Thread(target=die, name='worker-1')\n"
        "worker.start(); worker.join()\n")
    done = subprocess.run([sys.executable, "-W", "always", "-c", script], capture_output=True,
                          text=True, timeout=60, check=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.stderr == ""
    lines = _lines(done.stdout)
    assert len(lines) == len(done.stdout.splitlines()) == 2
    warning, crash = lines
    assert "old knob" in str(warning["event"]) and warning["level"] == "warning"
    assert crash["event"] == "thread.uncaught_exception" and crash["thread"] == "worker-1"
    assert "RuntimeError: thread died" in crash["exception"]


def test_redirected_output_takes_every_line_while_it_lasts(
        capsys: pytest.CaptureFixture[str]) -> None:
    import io
    import logging

    configure_logging(role="api")
    log = get_logger("flowllama.test")
    elsewhere = io.StringIO()
    with redirected_output(elsewhere):
        log.info("structlog.line")
        logging.getLogger("botocore.credentials").info("stdlib line")
    log.info("back.on.stdout")
    moved = [json.loads(line)["event"] for line in elsewhere.getvalue().splitlines()]
    assert moved == ["structlog.line", "stdlib line"]
    assert [json.loads(line)["event"] for line in capsys.readouterr().out.splitlines()] == [
        "back.on.stdout"]
