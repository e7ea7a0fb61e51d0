"""LiteLLM's proxy as a path under test (``--litellm``): one worker, a generated config routing
the model to the fake upstream as ``openai/bench``, authenticated by a master key in memory."""

from __future__ import annotations

import secrets
import shutil
from contextlib import ExitStack
from pathlib import Path

from .harness import BODY, PROXY_CPU, free_port, process
from .load import Target


def default_litellm() -> str | None:
    """``litellm`` on ``PATH``, else ``/tmp/litellm-venv/bin/litellm`` if present, else None."""
    found = shutil.which("litellm")
    if found:
        return found
    venv = Path("/tmp/litellm-venv/bin/litellm")
    return str(venv) if venv.exists() else None


def _config(tmp: Path, upstream_v1: str, master_key: str) -> Path:
    """A LiteLLM proxy config: the model ``bot`` is ``openai/bench`` at the fake upstream;
    requests authenticate with ``master_key`` (checked in memory, no database)."""
    config = tmp / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {BODY['model']}\n"
        "    litellm_params:\n"
        "      model: openai/bench\n"
        f"      api_base: {upstream_v1}\n"
        "      api_key: dummy\n"
        "general_settings:\n"
        f"  master_key: {master_key}\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
        "  drop_params: true\n")
    return config


def start_litellm(stack: ExitStack, tmp: Path, executable: str, upstream_v1: str) -> Target:
    """Start ``executable`` (LiteLLM's proxy) on the proxy CPU until ``stack`` closes, routing
    to ``upstream_v1``; its config goes under ``tmp``."""
    port, master_key = free_port(), f"sk-{secrets.token_hex(32)}"
    config = _config(tmp, upstream_v1, master_key)
    pid = stack.enter_context(process(
        [executable, "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
         "--num_workers", "1"], PROXY_CPU, f"http://127.0.0.1:{port}/health/liveliness",
        {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR",
         "LITELLM_TELEMETRY": "False"}, timeout=180))
    return Target("litellm", port, "/v1/chat/completions",
                  {"Authorization": f"Bearer {master_key}"}, pid)
