"""Running a real ``flowllama up`` process in a test: start it, wait for it, talk to its API as
a user, always stop it; and finding the processes a test left behind."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai

from factories import STRONG_PASSWORD
from flowllama.providers.local import procfs
from flowllama.providers.local.records import LocalRecord, RecordStore
from log_capture import keep_process_log
from tiny_model import free_port

TIMEOUT_S = 180
# How long stopping processes may take to be gone before they count as left behind.
EXIT_WAIT_S = 15.0
# Command-line words of the processes FlowLlama starts (itself, supervisors, runtimes).
OURS = ("flowllama", "llama_cpp", "ollama")


@dataclass(frozen=True)
class UpProcess:
    """A running ``flowllama up``: its base URL, process, data dir and combined output."""

    base_url: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path


def wait_for(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    """Until ``url`` answers 200; fails at once if ``process`` exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"flowllama exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not come up in {timeout_s}s")


@contextmanager
def flowllama_up(tmp_path: Path, env: Mapping[str, str] | None = None,
                 command: Sequence[str] = ("-m", "flowllama")) -> Iterator[UpProcess]:
    """``flowllama up`` on a free port and a fresh data dir under ``tmp_path``, with only the
    ``FLOWLLAMA_*`` variables given in ``env``. On exit one still running is stopped as a user
    would stop it (SIGTERM, which stops its runtimes too), and killed only if that fails.
    ``command`` is what follows the interpreter (another entry point, e.g. a test script)."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLLAMA_")}
    data_dir = tmp_path / "data"
    log_path = tmp_path / "up.log"
    keep_process_log(log_path)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, *command, "up", "--port", str(port), "--data-dir", str(data_dir)],
            env={**clean, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(f"{base}/health", process)
            yield UpProcess(base, process, data_dir, log_path)
        finally:
            stop_up(process)


def stop_up(process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    """SIGTERM ``flowllama up`` and wait (it stops its runtimes); SIGKILL if it hangs."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


class SignedIn(httpx.Auth):
    """The user's bearer token, signed in again when the API says it expired (some platforms
    under test give access tokens 30 s; a module's tests can outlast that)."""

    requires_response_body = True

    def __init__(self, base_url: str, email: str) -> None:
        self.login = {"email": email, "password": STRONG_PASSWORD}
        self.url = f"{base_url.rstrip('/')}/api/auth/login"
        self.token: str | None = None

    def sign_in(self) -> None:
        """Sign in now (so a client made before an outage already holds its token)."""
        self.token = self._token(httpx.post(self.url, json=self.login, timeout=30))

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        if self.token is None:
            self.token = self._token((yield httpx.Request("POST", self.url, json=self.login)))
        request.headers["Authorization"] = f"Bearer {self.token}"
        response = yield request
        if response.status_code == 401 and "token_expired" in response.text:
            self.token = self._token((yield httpx.Request("POST", self.url, json=self.login)))
            request.headers["Authorization"] = f"Bearer {self.token}"
            yield request

    @staticmethod
    def _token(response: httpx.Response) -> str:
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token


class Api:
    """The user's side of the REST API."""

    def __init__(self, base_url: str, *, register: bool = True) -> None:
        email = "e2e@example.com"
        if register:
            registered = httpx.post(f"{base_url.rstrip('/')}/api/auth/register", json={
                "email": email, "password": STRONG_PASSWORD}, timeout=30)
            assert registered.status_code == 201, registered.text
        auth = SignedIn(base_url, email)
        auth.sign_in()
        self.http = httpx.Client(base_url=base_url, timeout=30, auth=auth)

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        response = self.http.get(f"/api/deployments/{deployment_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait_status(self, deployment_id: str, status: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT_S
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            body = self.deployment(deployment_id)
            if body["status"] == status:
                return body
            assert body["status"] != "failed", body["status_message"]
            time.sleep(0.3)
        raise AssertionError(f"never reached {status}: {body}")

    def act(self, deployment_id: str, action: str) -> None:
        response = self.http.post(f"/api/deployments/{deployment_id}/{action}")
        assert response.status_code == 202, response.text

    def create_key(self) -> str:
        """A new API key for the token API."""
        response = self.http.post("/api/keys", json={"name": "e2e"})
        assert response.status_code == 201, response.text
        key: str = response.json()["key"]
        return key


def wait_answering(deployment: Mapping[str, Any], api_key: str) -> None:
    """Until the gateway gets an answer from ``deployment`` (a relaunched runtime is still
    loading while its row already says ``running``)."""
    body = {"model": deployment["endpoint_model"], "max_tokens": 1,
            "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {api_key}"}
    url = f"{deployment['endpoint_url']}/chat/completions"
    deadline = time.monotonic() + TIMEOUT_S
    status = 0
    while time.monotonic() < deadline:
        status = httpx.post(url, json=body, headers=headers, timeout=60).status_code
        if status == 200:
            return
        time.sleep(0.5)
    raise AssertionError(f"{url} never answered (last HTTP {status})")


def runtime_record(up: UpProcess, deployment_id: str) -> LocalRecord:
    """The local provisioner's record of a deployment's runtime (its port, its process)."""
    record = RecordStore(up.data_dir / "local" / "records").load(deployment_id)
    assert record is not None, f"no runtime record for {deployment_id}"
    return record


def local_env(models_dir: Path, **extra: str) -> dict[str, str]:
    """Settings for a ``flowllama up`` that serves ``models_dir`` with one fast-polling worker."""
    return {"FLOWLLAMA_MODELS_DIR": str(models_dir), "FLOWLLAMA_AGENT__WORKERS": "1",
            "FLOWLLAMA_AGENT__POLL_S": "0.2", **extra}


def chat_with_openai(deployment: Mapping[str, Any], api_key: str) -> None:
    """A plain and a streamed chat completion with the official client, at the endpoint the
    API shows for ``deployment`` (the gateway) with an API key; both must answer."""
    client = openai.OpenAI(base_url=deployment["endpoint_url"], api_key=api_key, max_retries=0,
                           timeout=60)
    model = deployment["endpoint_model"]
    messages: list[Any] = [{"role": "user", "content": "Say hello"}]
    reply = client.chat.completions.create(model=model, messages=messages, max_tokens=8)
    assert reply.choices[0].message.content
    assert reply.usage is not None and reply.usage.completion_tokens == 8
    chunks = list(client.chat.completions.create(model=model, messages=messages, max_tokens=8,
                                                 stream=True))
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text and len(chunks) > 2


def processes_marked_by(marker: Path) -> list[tuple[int, str]]:
    """Running processes (pid, command line) whose command line, working directory or
    environment mention ``marker`` (a test's tmp dir): a ``flowllama up`` or agent with its data
    dir there, a supervisor with its root there, a runtime working there. Not this process."""
    inside = str(marker).rstrip("/") + "/"
    found = []
    for info in procfs.all_processes():
        if info.pid == os.getpid() or not info.running:
            continue
        argv = procfs.command_line(info.pid) or []
        line = " ".join(argv)
        if inside in line or line.endswith(inside[:-1]) or _works_in(info.pid, inside) or (
                any(word in line for word in (*OURS, "python"))
                and _environment_mentions(info.pid, inside)):
            found.append((info.pid, line[:300]))
    return found


def descendants_of_ours() -> list[tuple[int, str]]:
    """Running descendants of this process whose command line is FlowLlama's (or a runtime's)."""
    children: dict[int, list[int]] = {}
    for info in procfs.all_processes():
        if info.running:
            children.setdefault(info.ppid, []).append(info.pid)
    found, stack = [], list(children.get(os.getpid(), []))
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        line = " ".join(procfs.command_line(pid) or [])
        if any(word in line for word in OURS):
            found.append((pid, line[:300]))
    return found


def left_behind(find: Callable[[], list[tuple[int, str]]]) -> list[tuple[int, str]]:
    """What ``find`` still reports after up to :data:`EXIT_WAIT_S` (processes being stopped
    get that long to go); those are then killed, so one leak does not spill into other tests."""
    deadline = time.monotonic() + EXIT_WAIT_S
    found = find()
    while found and time.monotonic() < deadline:
        time.sleep(0.2)
        found = find()
    for pid, _ in found:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return found


def _works_in(pid: int, inside: str) -> bool:
    try:
        return (os.readlink(f"/proc/{pid}/cwd") + "/").startswith(inside)
    except OSError:  # gone meanwhile, or not ours to read
        return False


def _environment_mentions(pid: int, inside: str) -> bool:
    try:
        environment = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return inside.encode() in environment or inside[:-1].encode() + b"\0" in environment
