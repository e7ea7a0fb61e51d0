"""``serve dashboard`` over a store it cannot read: an S3 bucket that does not exist (moto's
server on loopback) is a 503 naming the store's problem on every page, not a 500."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from flowllama.api.app import create_app
from flowllama.platform import build_platform
from flowllama.settings import Settings


def test_an_unreachable_store_is_a_503(aws_env: None, tmp_path: Path) -> None:
    settings = Settings(env="test", data_dir=tmp_path / "data",
                        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
                        auth={"jwt_secret": "test-secret-" + "x" * 40},  # type: ignore[arg-type]
                        loadtest={"results_url": "s3://no-such-bucket/runs"})  # type: ignore[arg-type]
    with TestClient(create_app(build_platform(settings), ["dashboard"])) as client:
        for path in ("/dashboard/", "/dashboard/targets/chat",
                     "/dashboard/targets/chat/runs/20261201T040000Z-0000abcd/files/stats.csv"):
            response = client.get(path)
            assert response.status_code == 503, (path, response.text)
            assert response.json()["error"]["code"] == "results_store_unavailable"
