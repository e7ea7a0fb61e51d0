"""The CLI walk-through against a real ``flowllama up`` (llama.cpp serving the tiny GGUF), each
command run as a user runs it (``python -m flowllama ...`` in its own process) and each checked
by its effect through the API: login, deploy ``local/tiny`` with ``--wait`` (its events shown
as progress), ps, status, logs, chat (a streamed reply through the gateway, with a temporary
key that is revoked afterwards), keys create/revoke (the gateway takes, then refuses, the key),
usage, rm, logout. Every ``--json`` output parses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import flowllama
from factories import STRONG_PASSWORD
from flowllama.runtimes import LlamaCppRuntime
from processes import TIMEOUT_S, Api, UpProcess, flowllama_up, local_env

pytestmark = pytest.mark.slow

SRC = str(Path(flowllama.__file__).resolve().parents[1])


@dataclass
class Cli:
    """``python -m flowllama`` in a subprocess with its own config dir."""

    env: dict[str, str]

    def run(self, *args: str, input: str | None = None, ok: bool = True
            ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "flowllama", *args], input=input,
                              capture_output=True, text=True, env=self.env, timeout=TIMEOUT_S,
                              check=False)
        if ok:
            assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)


@pytest.fixture
def up(tmp_path: Path, tiny_model_file: Path) -> Iterator[UpProcess]:
    if not LlamaCppRuntime().is_installed():
        if os.environ.get("CI"):
            raise RuntimeError("llama-cpp-python[server] is required under CI")
        pytest.skip("llama-cpp-python[server] is not installed (the llamacpp extra)")
    env = local_env(tiny_model_file.parent, FLOWLLAMA_GATEWAY__USAGE_FLUSH_INTERVAL_S="0.5")
    with flowllama_up(tmp_path, env) as running:
        yield running


def _cli(tmp_path: Path) -> Cli:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLLAMA_")}
    pythonpath = os.pathsep.join(p for p in (SRC, clean.get("PYTHONPATH")) if p)
    return Cli({**clean, "PYTHONPATH": pythonpath, "COLUMNS": "200",
                "FLOWLLAMA_CONFIG_DIR": str(tmp_path / "cli-config")})


def _until(check: Any, what: str) -> Any:
    deadline = time.monotonic() + 60
    while not (found := check()):
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.3)
    return found


def test_cli_walkthrough(up: UpProcess, tmp_path: Path) -> None:
    api = Api(up.base_url)  # registers the account the CLI logs in to, and checks effects
    cli = _cli(tmp_path)
    cli.run("login", "--url", up.base_url, "--email", "e2e@example.com", "--password-stdin",
            input=STRONG_PASSWORD + "\n")
    assert cli.json("whoami")["email"] == "e2e@example.com"

    deployed = cli.run("deploy", "local/tiny", "--name", "tiny", "--context", "512",
                       "--cloud", "local", "--wait")
    for step in ("→ pending", "→ provisioning", "→ running", "tiny is running"):
        assert step in deployed.stdout, deployed.stdout  # the events, shown as they came
    [listed] = cli.json("ps")
    running = api.deployment(listed["id"])
    assert (listed["name"], running["status"]) == ("tiny", "running")
    assert cli.json("status", "tiny")["endpoint_url"] == f"{up.base_url}/v1"

    _logs(cli, api, running["id"])
    _chat(cli, api)
    _keys(cli, api, running)

    usage = cli.json("usage", "--by", "deployment")
    assert usage == api.http.get("/api/usage", params={"group_by": "deployment"}).json()
    assert usage["total"]["requests"] >= 2 and usage["items"][0]["label"] == "tiny"
    assert "tiny" in cli.run("usage", "--by", "deployment").stdout

    removed = cli.json("rm", "tiny", "--yes", "--wait")
    assert removed == {"id": running["id"], "status": "deleted"}
    assert api.http.get(f"/api/deployments/{running['id']}").status_code == 404
    assert cli.json("ps") == []
    assert cli.json("logout")["revoked"] is True
    assert cli.run("whoami", ok=False).returncode == 1


def _logs(cli: Cli, api: Api, deployment_id: str) -> None:
    shown = cli.run("logs", "tiny", "--tail", "20").stdout.splitlines()
    served = api.http.get(f"/api/deployments/{deployment_id}/logs", params={"tail": 20}).json()
    assert shown and served["source"] == "local"
    assert set(shown) & set(served["lines"])  # the same server log (it may have grown since)
    assert cli.json("logs", "tiny", "--tail", "5")["source"] == "local"


def _chat(cli: Cli, api: Api) -> None:
    answer = cli.run("chat", "tiny", "-m", "Say hello", "--max-tokens", "8", "--json")
    reply = json.loads(answer.stdout)
    assert reply["role"] == "assistant" and reply["content"]
    assert reply["chunks"] >= 2  # streamed: the text came in pieces
    plain = cli.run("chat", "tiny", "--max-tokens", "4", input="Hi\nAnd again\n")
    assert plain.stdout.count("assistant>") == 2  # two turns, piped on stdin
    # The temporary keys the chats made are revoked.
    assert api.http.get("/api/keys").json() == []
    _until(lambda: api.http.get("/api/usage").json()["total"]["requests"] >= 3,
           "the chats' usage was recorded")


def _keys(cli: Cli, api: Api, deployment: dict[str, Any]) -> None:
    created = cli.json("keys", "create", "walkthrough", "--model", "tiny")
    [live] = api.http.get("/api/keys").json()
    assert (live["id"], live["models"]) == (created["id"], ["tiny"])
    assert [k["id"] for k in cli.json("keys", "ls")] == [created["id"]]
    body = {"model": deployment["endpoint_model"], "max_tokens": 1,
            "messages": [{"role": "user", "content": "hi"}]}
    url = f"{deployment['endpoint_url']}/chat/completions"
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert httpx.post(url, json=body, headers=headers, timeout=60).status_code == 200
    cli.run("keys", "revoke", "walkthrough")
    assert api.http.get("/api/keys").json() == []
    assert httpx.post(url, json=body, headers=headers, timeout=60).status_code == 401
