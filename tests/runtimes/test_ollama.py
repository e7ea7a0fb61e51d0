from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from flowllama.runtimes import (
    ModelNotFound,
    ModelPullFailed,
    OllamaRuntime,
    PullProgress,
    RuntimeLaunch,
    RuntimeNotInstalled,
    wait_healthy,
)
from tiny_model import free_port, port_is_free, stop_process


def _launch(tmp_path: Path, **changes: Any) -> RuntimeLaunch:
    args: dict[str, Any] = {
        "port": 11500, "model": "llama3.2:1b", "models_dir": tmp_path / "models",
        "context_size": 8192, "parallel": 4, **changes,
    }
    return RuntimeLaunch(**args)


def test_command_is_ollama_serve_from_the_resolved_executable(
    tmp_path: Path, fake_ollama_executable: Path
) -> None:
    runtime = OllamaRuntime(executable=str(fake_ollama_executable))
    assert runtime.is_installed()
    assert runtime.command(_launch(tmp_path)) == [str(fake_ollama_executable), "serve"]


def test_missing_ollama_fails_fast_with_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no ollama on PATH
    runtime = OllamaRuntime()
    assert not runtime.is_installed()
    started = time.monotonic()
    with pytest.raises(RuntimeNotInstalled) as caught:
        runtime.command(_launch(tmp_path))
    assert time.monotonic() - started < 1.0
    assert "https://ollama.com/download" in str(caught.value)


def test_environment_configures_the_server(tmp_path: Path) -> None:
    source = {"PATH": "/usr/bin", "HOME": "/root", "FLOWLLAMA_JWT_SECRET": "x",
              "OLLAMA_MODELS": "/somewhere/else"}
    env = OllamaRuntime().environment(
        _launch(tmp_path, keep_alive_s=-1, extra_env={"OLLAMA_FLASH_ATTENTION": "1"}), source
    )
    assert env == {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "OLLAMA_FLASH_ATTENTION": "1",
        "OLLAMA_HOST": "127.0.0.1:11500",
        "OLLAMA_MODELS": str(tmp_path / "models"),
        "OLLAMA_CONTEXT_LENGTH": "8192",
        "OLLAMA_NUM_PARALLEL": "4",
        "OLLAMA_MAX_LOADED_MODELS": "1",
        "OLLAMA_KEEP_ALIVE": "-1",
    }


def test_keep_alive_is_left_to_ollama_unless_set(tmp_path: Path) -> None:
    assert "OLLAMA_KEEP_ALIVE" not in OllamaRuntime().environment(_launch(tmp_path), {})
    env = OllamaRuntime().environment(_launch(tmp_path, keep_alive_s=600), {})
    assert env["OLLAMA_KEEP_ALIVE"] == "600"


def test_ipv6_host_is_bracketed(tmp_path: Path) -> None:
    env = OllamaRuntime().environment(_launch(tmp_path, host="::1"), {})
    assert env["OLLAMA_HOST"] == "[::1]:11500"


def test_prepare_pulls_with_progress_then_loads(fake_ollama: Any) -> None:
    steps: list[PullProgress] = []
    with httpx.Client(base_url=fake_ollama.base_url) as client:
        OllamaRuntime().prepare(client, "llama3.2:1b", steps.append, timeout_s=10)
    fractions = [step.fraction for step in steps if step.fraction is not None]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert any(0.0 < fraction < 1.0 for fraction in fractions)  # partial progress reported
    assert [step.status for step in steps][-2:] == ["loading model", "ready"]
    assert steps[-3].total_bytes == 4000
    assert fake_ollama.requests == [
        ("/api/pull", {"model": "llama3.2:1b", "stream": True}),
        ("/api/generate", {"model": "llama3.2:1b", "prompt": "", "stream": False}),
    ]


@pytest.mark.parametrize(
    ("model", "error", "message"),
    [
        ("missing:tag", ModelNotFound, "file does not exist"),
        ("broken:tag", ModelPullFailed, "no space left on device"),
        ("truncated:tag", ModelPullFailed, "without reporting success"),
        ("garbage:tag", ModelPullFailed, "unreadable pull line"),
    ],
)
def test_prepare_reports_pull_failures(
    fake_ollama: Any, model: str, error: type[Exception], message: str
) -> None:
    with httpx.Client(base_url=fake_ollama.base_url) as client, pytest.raises(error) as caught:
        OllamaRuntime().prepare(client, model, timeout_s=10)
    assert message in str(caught.value)
    assert [path for path, _body in fake_ollama.requests] == ["/api/pull"]  # never loaded


def test_prepare_against_no_server_is_a_pull_failure() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with httpx.Client(base_url=url) as client, pytest.raises(ModelPullFailed, match="Connect"):
        OllamaRuntime().prepare(client, "llama3.2:1b", timeout_s=5)


@pytest.mark.slow
def test_server_process_gets_its_configuration_from_the_runtime(
    tmp_path: Path, fake_ollama_executable: Path
) -> None:
    """The whole contract, with the fake API standing in for the ``ollama`` binary."""
    runtime = OllamaRuntime(executable=str(fake_ollama_executable))
    launch = _launch(tmp_path, port=free_port(), keep_alive_s=300)
    source = {"PATH": "/usr/bin:/bin", "FLOWLLAMA_JWT_SECRET": "must-not-leak"}
    process = subprocess.Popen(
        runtime.command(launch), env=runtime.environment(launch, source),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(launch.base_url, runtime.health_path, 30, process)
        seen = httpx.get(launch.base_url + "/fake/env", trust_env=False).json()
        assert seen["secret_leaked"] is False
        assert seen["env"]["OLLAMA_HOST"] == f"127.0.0.1:{launch.port}"
        assert seen["env"]["OLLAMA_KEEP_ALIVE"] == "300"
        with httpx.Client(base_url=launch.base_url, trust_env=False) as client:
            runtime.prepare(client, "llama3.2:1b", timeout_s=10)
    finally:
        stop_process(process)
    assert port_is_free(launch.port)
