"""The paths under test of a wrk run and their servers: ``direct`` (the fake upstream), the
gateway of this tree, optionally the gateway of a git ref (``--baseline``), one gateway process
and two (``--processes``), and LiteLLM's proxy (``--litellm``). All stay up for the whole run,
so paths can be interleaved round by round."""

from __future__ import annotations

import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

from .harness import PROXY_CPU, REPOSITORY, UPSTREAM_CPU, free_port, process, start_upstream
from .litellm_proxy import start_litellm
from .load import Target
from .seed import seed

CHAT_PATH = "/v1/chat/completions"


def start_gateway(stack: ExitStack, tmp: Path, cpu: int | set[int], *extra: str,
                  pythonpath: Path | None = None) -> tuple[int, int]:
    """Start ``flowllama serve gateway`` (with ``extra`` arguments, this tree's code unless
    ``pythonpath`` names another ``src``) over ``tmp``'s database: (port, pid)."""
    port = free_port()
    env = {"FLOWLLAMA_LOG_LEVEL": "info", "FLOWLLAMA_ENV": "development"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    pid = stack.enter_context(process(
        [sys.executable, "-m", "flowllama", "serve", "gateway", "--port", str(port),
         "--data-dir", str(tmp), *extra], cpu, f"http://127.0.0.1:{port}/v1/health", env))
    return port, pid


def export_ref(ref: str, tmp: Path) -> Path:
    """The ``src`` directory of git ref ``ref`` of this repository, exported under ``tmp``."""
    target = tmp / "baseline"
    target.mkdir()
    archive = subprocess.run(["git", "-C", str(REPOSITORY), "archive", ref, "src"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target / "src"


def _process_targets(stack: ExitStack, tmp: Path, auth: dict[str, str]) -> list[Target]:
    """``gateway x1`` and ``gateway x2`` (``--workers 2``), both allowed on both CPUs: one
    process and two on the same CPUs, so neither runs on a busier one."""
    targets = []
    for name, extra in (("gateway x1", ()), ("gateway x2", ("--workers", "2"))):
        port, pid = start_gateway(stack, tmp, {UPSTREAM_CPU, PROXY_CPU}, *extra)
        targets.append(Target(name, port, CHAT_PATH, auth, pid))
    return targets


def start_servers(stack: ExitStack, tmp: Path, litellm: str | None, *,
                  baseline: str | None = None, processes: bool = False) -> list[Target]:
    """Start the upstream (CPU 0), the gateway, ``gateway@baseline`` and LiteLLM (CPU 1), and
    one and two gateway processes (both on both CPUs), for the whole run. The first target is
    ``direct``, the second this tree's ``gateway``."""
    up_port, up_pid = start_upstream(stack)
    upstream_v1 = f"http://127.0.0.1:{up_port}/v1"
    key = seed(tmp, upstream_v1)
    auth = {"Authorization": f"Bearer {key}"}
    gw_port, gw_pid = start_gateway(stack, tmp, PROXY_CPU)
    targets = [Target("direct", up_port, CHAT_PATH, {}, up_pid),
               Target("gateway", gw_port, CHAT_PATH, auth, gw_pid)]
    if baseline:
        port, pid = start_gateway(stack, tmp, PROXY_CPU, pythonpath=export_ref(baseline, tmp))
        targets.append(Target(f"gateway@{baseline}", port, CHAT_PATH, auth, pid))
    if processes:
        targets.extend(_process_targets(stack, tmp, auth))
    if litellm:
        targets.append(start_litellm(stack, tmp, litellm, upstream_v1))
    return targets
