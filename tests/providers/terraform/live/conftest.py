"""Live AWS fixtures: the real Terraform engine and hashicorp/aws provider against a moto
server, one foundation applied per session (on an HTTP state backend, so every test and every
``flowllama up`` reads it as remote state), destroyed at the end."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowllama.errors import ConfigError
from flowllama.providers.terraform import BackendConfig, Engine, default_engine
from flowllama.providers.terraform.cloud_stacks import aws_foundation_stack
from flowllama.providers.terraform.foundation import Foundations
from providers.terraform.conftest import StateServer, _handler
from providers.terraform.live.aws_moto import (
    LIVE,
    MOTO_CREDENTIALS,
    REGION,
    TEST_OLLAMA_SHA256,
    Foundation,
    Moto,
    capacity_proxy,
    moto_server,
    tagged,
    terraform_cli_config,
)


@pytest.fixture(scope="session")
def live_engine() -> Engine:
    try:
        return default_engine()
    except ConfigError as exc:
        pytest.skip(f"no Terraform engine here: {exc}")


@pytest.fixture(scope="session")
def moto(live_engine: Engine) -> Iterator[Moto]:
    config = terraform_cli_config()
    with moto_server() as url, capacity_proxy(url) as proxy:
        env = {**MOTO_CREDENTIALS, "TF_CLI_CONFIG_FILE": str(config)}
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)  # boto3 and Terraform children read the standard chain
        try:
            yield Moto(url, proxy, env)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@pytest.fixture(scope="session")
def state_backend() -> Iterator[tuple[StateServer, BackendConfig]]:
    from http.server import ThreadingHTTPServer
    from threading import Thread

    server = StateServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    server.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    Thread(target=httpd.serve_forever, daemon=True).start()
    yield server, BackendConfig.http(server.base_url)
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def foundation(moto: Moto, live_engine: Engine, state_backend: tuple[StateServer, BackendConfig],
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Foundation]:
    """The aws-foundation stack applied once for the session; destroyed (and checked) after."""
    root = tmp_path_factory.mktemp("foundation") / "terraform"
    foundations = Foundations(root, [aws_foundation_stack()], engine=live_engine,
                              backend=state_backend[1], options=LIVE, env=moto.env,
                              provider_settings=moto.provider_settings,
                              cloud_values={"aws": {"environment": "test"}})
    outputs = foundations.apply("aws", REGION)
    yield Foundation(foundations, outputs, state_backend[1])
    foundations.destroy("aws", REGION)
    assert tagged(moto, "environment", "test") == [], "the foundation left tagged resources"


@pytest.fixture(scope="session")
def ami(moto: Moto) -> str:
    return moto.image_id()


@pytest.fixture
def ollama_values(moto: Moto, ami: str) -> dict[str, Any]:
    """The operator's fixed values for the aws-ollama stack in these tests."""
    return {"environment": "test", "image_id": ami,
            "ollama_sha256": TEST_OLLAMA_SHA256}


@pytest.fixture
def workspaces(tmp_path: Path) -> Path:
    return tmp_path / "terraform"
