"""``flowllama usage`` against the real API: the report for each grouping; a bad one is the
API's 422 with its field."""

from __future__ import annotations

from fastapi.testclient import TestClient

from client.conftest import Cli
from factories import register_and_login


def test_usage_report(cli: Cli, client: TestClient) -> None:
    register_and_login(client)
    assert cli.login().exit_code == 0
    for by in ("day", "key", "deployment"):
        report = cli.json("usage", "--by", by, "--from", "2026-01-01")
        assert (report["group_by"], report["from"], report["total"]["requests"]) == (
            by, "2026-01-01", 0)
        assert "total" in cli("usage", "--by", by).stdout
    bad = cli("usage", "--by", "week")
    assert bad.exit_code == 1 and "group_by" in bad.stderr
