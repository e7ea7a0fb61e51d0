from __future__ import annotations

from pathlib import Path

import pytest

from flowllama.runtimes import RuntimeLaunch, RuntimeNotInstalled
from flowllama.runtimes.ollama import OllamaRuntime


def test_launch_defaults_to_loopback_and_builds_urls(tmp_path: Path) -> None:
    launch = RuntimeLaunch(port=8081, model="qwen2.5:0.5b", models_dir=tmp_path)
    assert launch.host == "127.0.0.1"
    assert launch.base_url == "http://127.0.0.1:8081"
    assert OllamaRuntime().openai_base_url(launch) == "http://127.0.0.1:8081/v1"
    assert OllamaRuntime().health_url(launch) == "http://127.0.0.1:8081/api/tags"


def test_launch_brackets_ipv6_hosts(tmp_path: Path) -> None:
    launch = RuntimeLaunch(port=9000, model="m", models_dir=tmp_path, host="::1")
    assert launch.base_url == "http://[::1]:9000"


@pytest.mark.parametrize(
    "changes",
    [{"port": 0}, {"port": 70000}, {"host": "localhost; rm -rf /"}, {"context_size": 0},
     {"parallel": 0}, {"threads": 0}, {"model": ""}],
)
def test_launch_rejects_impossible_values(tmp_path: Path, changes: dict[str, object]) -> None:
    args: dict[str, object] = {"port": 8081, "model": "m", "models_dir": tmp_path, **changes}
    with pytest.raises(ValueError):
        RuntimeLaunch(**args)  # type: ignore[arg-type]


def test_ensure_installed_names_the_runtime_and_how_to_install(tmp_path: Path) -> None:
    runtime = OllamaRuntime(executable=str(tmp_path / "no-ollama-here"))
    with pytest.raises(RuntimeNotInstalled) as caught:
        runtime.ensure_installed()
    assert "ollama" in str(caught.value)
    assert "https://ollama.com/download" in str(caught.value)
    assert caught.value.retryable is False
