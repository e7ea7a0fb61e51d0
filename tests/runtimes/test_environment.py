from __future__ import annotations

import pytest

from flowllama.runtimes.environment import PASSTHROUGH, inherited_environment, runtime_environment

PARENT = {
    "PATH": "/usr/bin",
    "HOME": "/home/fl",
    "LC_ALL": "C.UTF-8",
    "CUDA_VISIBLE_DEVICES": "0",
    "FLOWLLAMA_JWT_SECRET": "s3cret",
    "AWS_SECRET_ACCESS_KEY": "aws",
    "API_KEY": "would-enable-auth-in-llama-cpp",
    "CONFIG_FILE": "/etc/other.json",
    "OLLAMA_HOST": "0.0.0.0:11434",
}


def test_only_allow_listed_variables_are_inherited() -> None:
    assert inherited_environment(PARENT) == {
        "PATH": "/usr/bin", "HOME": "/home/fl", "LC_ALL": "C.UTF-8", "CUDA_VISIBLE_DEVICES": "0",
    }


def test_managed_values_win_over_extra_and_inherited() -> None:
    env = runtime_environment(
        managed={"OLLAMA_HOST": "127.0.0.1:9000"},
        extra={"OLLAMA_HOST": "0.0.0.0:1", "OLLAMA_FLASH_ATTENTION": "1"},
        source=PARENT,
    )
    assert env["OLLAMA_HOST"] == "127.0.0.1:9000"
    assert env["OLLAMA_FLASH_ATTENTION"] == "1"
    assert "FLOWLLAMA_JWT_SECRET" not in env


def test_no_inherited_name_is_a_llama_cpp_server_setting() -> None:
    # llama-cpp-python's server reads its settings from unprefixed environment variables.
    settings = pytest.importorskip("llama_cpp.server.settings")
    fields = {name.upper() for name in settings.Settings.model_fields}
    assert not fields & {name.upper() for name in PASSTHROUGH}
