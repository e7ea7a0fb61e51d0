"""Fixtures for the load-test tests: moto's S3 server on loopback with dummy credentials."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's server on 127.0.0.1 (real HTTP, real boto3), for one test module."""
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, s3_endpoint: str) -> None:
    """Dummy credentials, S3 at moto, and no chance of reading a real AWS profile."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_CONFIG_FILE": "/dev/null", "AWS_ENDPOINT_URL_S3": s3_endpoint,
                        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def s3_bucket(aws_env: None) -> str:
    """A fresh bucket per test."""
    boto3 = pytest.importorskip("boto3")
    import secrets

    name = f"loadtests-{secrets.token_hex(4)}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_client(aws_env: None) -> Any:
    boto3 = pytest.importorskip("boto3")
    return boto3.client("s3")
