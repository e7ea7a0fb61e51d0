"""Request ids: accepted when sane, generated otherwise, always echoed."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"


def test_request_id_generated_when_missing_or_unsafe(client: TestClient) -> None:
    for headers in ({}, {"X-Request-ID": "bad id\r\nwith spaces"}, {"X-Request-ID": "x" * 500}):
        response = client.get("/health", headers=headers)
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
