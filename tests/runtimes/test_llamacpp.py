from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from flowllama.gateway.json_schemas import MAX_REPEAT, check_grammar_safe
from flowllama.runtimes import (
    LlamaCppRuntime,
    ModelNotFound,
    PullProgress,
    RuntimeExited,
    RuntimeLaunch,
    RuntimeNotInstalled,
    wait_healthy,
)
from flowllama.runtimes import llamacpp as llamacpp_module
from tiny_model import (
    TINY_MODEL_NAME,
    free_port,
    port_is_free,
    serve_tiny_model,
    stop_process,
)


def _launch(model_file: Path, **changes: Any) -> RuntimeLaunch:
    args: dict[str, Any] = {
        "port": 8089, "model": TINY_MODEL_NAME, "models_dir": model_file.parent,
        "context_size": 512, "threads": 2, **changes,
    }
    return RuntimeLaunch(**args)


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Command construction does not need llama.cpp itself, only the check to pass."""
    monkeypatch.setattr(LlamaCppRuntime, "is_installed", lambda self: True)


@pytest.mark.usefixtures("installed")
def test_command_serves_the_local_file_under_its_model_name(tiny_model_file: Path) -> None:
    command = LlamaCppRuntime(python="/venv/bin/python").command(_launch(tiny_model_file))
    assert command == [
        "/venv/bin/python", "-m", "llama_cpp.server",
        "--model", str(tiny_model_file),
        "--model_alias", "local/tiny",
        "--host", "127.0.0.1",
        "--port", "8089",
        "--n_ctx", "512",
        "--n_threads", "2",
        "--n_threads_batch", "2",
        "--n_gpu_layers", "-1",
        "--interrupt_requests", "false",
    ]


@pytest.mark.usefixtures("installed")
def test_model_path_overrides_the_local_name(tmp_path: Path, tiny_model_file: Path) -> None:
    launch = _launch(tiny_model_file, model="qwen2.5:0.5b", models_dir=tmp_path,
                     model_path=tiny_model_file)
    command = LlamaCppRuntime().command(launch)
    assert command[command.index("--model") + 1] == str(tiny_model_file)
    assert command[command.index("--model_alias") + 1] == "qwen2.5:0.5b"


@pytest.mark.usefixtures("installed")
def test_missing_gguf_file_fails_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match=r"absent\.gguf"):
        LlamaCppRuntime().command(RuntimeLaunch(port=8089, model="local/absent",
                                                models_dir=tmp_path))
    with pytest.raises(ModelNotFound, match=r"gone\.gguf"):
        LlamaCppRuntime().command(RuntimeLaunch(port=8089, model="local/x", models_dir=tmp_path,
                                                model_path=tmp_path / "gone.gguf"))


def test_missing_package_or_server_extras_fail_fast_with_install_hint(
    monkeypatch: pytest.MonkeyPatch, tiny_model_file: Path
) -> None:
    def no_sse_starlette(name: str) -> object:
        return None if name == "sse_starlette" else object()

    monkeypatch.setattr(llamacpp_module, "find_spec", no_sse_starlette)
    runtime = LlamaCppRuntime()
    assert not runtime.is_installed()
    with pytest.raises(RuntimeNotInstalled) as caught:
        runtime.command(_launch(tiny_model_file))
    assert "pip install 'flowllama[llamacpp]'" in str(caught.value)


def test_environment_is_unbuffered_and_carries_no_server_settings(tiny_model_file: Path) -> None:
    source = {"PATH": "/usr/bin", "API_KEY": "x", "CONFIG_FILE": "/x.json", "PORT": "1"}
    env = LlamaCppRuntime().environment(_launch(tiny_model_file), source)
    assert env == {"PATH": "/usr/bin", "PYTHONUNBUFFERED": "1"}


def test_the_runtime_key_goes_in_the_environment_never_on_the_command_line(
        tiny_model_file: Path) -> None:
    launch = dataclasses.replace(_launch(tiny_model_file), api_key="k3y")
    runtime = LlamaCppRuntime()
    assert runtime.environment(launch, {"PATH": "/usr/bin"})["API_KEY"] == "k3y"
    # An operator's extra variable cannot replace the key.
    extra = dataclasses.replace(launch, extra_env={"API_KEY": "mine"})
    assert runtime.environment(extra, {})["API_KEY"] == "k3y"
    assert "k3y" not in runtime.command(launch) and "k3y" not in repr(launch)
    assert runtime.enforces_api_key


def test_declares_serial_serving_and_no_streamed_usage() -> None:
    assert LlamaCppRuntime.max_parallel == 1
    assert LlamaCppRuntime.streams_usage is False
    assert LlamaCppRuntime.health_path == "/v1/models"
    assert LlamaCppRuntime.native_api_prefix is None


@pytest.mark.slow
def test_real_server_serves_the_tiny_model(tiny_model_file: Path, tmp_path: Path) -> None:
    openai = pytest.importorskip("openai")
    with serve_tiny_model(tiny_model_file, tmp_path) as server:
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="unused", max_retries=0)
        messages = [{"role": "user", "content": "Say hello"}]

        reply = client.chat.completions.create(model=server.model, messages=messages,
                                               max_tokens=6, seed=1)
        assert reply.usage.prompt_tokens > 0
        # The tiny model never samples EOS, so it always writes exactly max_tokens.
        assert reply.usage.completion_tokens == 6
        assert reply.choices[0].message.content
        assert reply.choices[0].finish_reason == "length"

        chunks = list(client.chat.completions.create(
            model=server.model, messages=messages, max_tokens=6, seed=1, stream=True,
            stream_options={"include_usage": True},
        ))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) == 6
        assert text == reply.choices[0].message.content  # same seed, same tokens
        assert chunks[-1].choices[0].finish_reason == "length"
        # llama-cpp-python drops stream_options: no chunk carries usage (streams_usage=False).
        assert all(c.usage is None for c in chunks)

        _check_a_second_request_waits_instead_of_cutting_a_stream(client, server.model)

        steps: list[PullProgress] = []
        with httpx.Client(base_url=server.base_url, trust_env=False) as http:
            LlamaCppRuntime().prepare(http, server.model, steps.append, timeout_s=10)
            with pytest.raises(ModelNotFound):
                LlamaCppRuntime().prepare(http, "local/other", timeout_s=10)
        assert steps == [PullProgress("ready", 1.0)]
    assert server.process.poll() is not None
    assert port_is_free(server.port)


def _check_a_second_request_waits_instead_of_cutting_a_stream(client: Any, model: str) -> None:
    # The server's own default (--interrupt_requests true) would end stream A as soon as B
    # arrives; served one at a time, A still gets every token and B runs after it.
    messages = [{"role": "user", "content": "go"}]
    stream = client.chat.completions.create(model=model, messages=messages, max_tokens=150,
                                            stream=True)
    pieces = [next(stream), next(stream)]
    with ThreadPoolExecutor(max_workers=1) as pool:
        second = pool.submit(client.chat.completions.create, model=model, messages=messages,
                             max_tokens=2)
        time.sleep(0.2)  # let B reach the server and queue behind A
        pieces += list(stream)
        assert second.result(timeout=60).usage.completion_tokens == 2
    assert len([p for p in pieces if p.choices and p.choices[0].delta.content]) == 150


@pytest.mark.slow
def test_json_schemas_the_gateway_lets_through_do_not_crash_the_real_server(
        tiny_model_file: Path, tmp_path: Path) -> None:
    # llama-cpp-python compiles a schema sent as {"type": "json_object", "schema": ...} (the
    # gateway refuses that spelling, unknown field) and refuses OpenAI's "json_schema" type;
    # a repetition count of 4,096 or a pattern with \d in either kills it. The largest schema
    # the gateway passes (every count at MAX_REPEAT, nested counts whose product is
    # MAX_REPEAT, every escape it allows) is served, and the server stays up.
    at_the_caps = {"type": "object", "properties": {
        "code": {"type": "string", "pattern": f"^[A-Z]{{2}}-[0-9]{{1,{MAX_REPEAT}}}$"},
        "parts": {"type": "string", "pattern": f"^([a-c]{{1,10}}-){{1,{MAX_REPEAT // 10}}}$"},
        "open": {"type": "string", "pattern": f"^a{{{MAX_REPEAT},}}b{{,{MAX_REPEAT}}}$"},
        # every escape the gateway lets through (SAFE_ESCAPES)
        "escapes": {"type": "string", "pattern": r"^\(\)\[\]\{\}\|\?\*\+\-\\\n\t\r\x41$"},
        "note": {"type": "string", "maxLength": MAX_REPEAT},
        "tags": {"type": "array", "maxItems": MAX_REPEAT, "items": {"$ref": "#/$defs/t"}}},
        "$defs": {"t": {"type": "string", "pattern": "^(a|b)+$"}}}
    check_grammar_safe(at_the_caps)
    hostile = {"type": "string", "pattern": f"^a\\.[0-9]{{0,{MAX_REPEAT * 5}}}$"}
    for refused in (hostile, {"type": "string", "pattern": f"^a{{,{MAX_REPEAT * 5}}}$"},
                    {"type": "string", "pattern": f"^(a{{{MAX_REPEAT}}}){{2}}$"}):
        with pytest.raises(ValueError):
            check_grammar_safe(refused)
    chat = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    with serve_tiny_model(tiny_model_file, tmp_path) as server, httpx.Client(
            base_url=server.openai_base_url, timeout=120, trust_env=False) as http:
        compiled = http.post("/chat/completions", json={**chat, "model": server.model,
                             "response_format": {"type": "json_object", "schema": at_the_caps}})
        assert compiled.status_code == 200, compiled.text
        forwarded = http.post("/chat/completions", json={**chat, "model": server.model,
                              "response_format": {"type": "json_schema", "json_schema": {
                                  "name": "x", "schema": hostile}}})
        assert 400 <= forwarded.status_code < 600  # an error answer, not a dropped connection
        assert server.process.poll() is None
        assert http.post("/chat/completions", json={**chat, "model": server.model}
                         ).status_code == 200


@pytest.mark.slow
def test_a_corrupt_model_file_ends_the_wait_at_once(tmp_path: Path) -> None:
    runtime = LlamaCppRuntime()
    if not runtime.is_installed():
        pytest.skip(runtime.install_hint)
    (tmp_path / "broken.gguf").write_bytes(b"GGUF" + b"\0" * 64)
    launch = RuntimeLaunch(port=free_port(), model="local/broken", models_dir=tmp_path,
                           context_size=128, threads=1)
    process = subprocess.Popen(
        runtime.command(launch), env=runtime.environment(launch),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    started = time.monotonic()
    try:
        with pytest.raises(RuntimeExited):
            wait_healthy(launch.base_url, runtime.health_path, 60, process)
    finally:
        stop_process(process)
    assert time.monotonic() - started < 30


def test_default_python_is_this_interpreter() -> None:
    assert LlamaCppRuntime().python == sys.executable
