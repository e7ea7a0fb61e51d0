"""Watching a deployment: ``deploy --wait`` shows each event and exits 1 with the reason when
it fails; ``logs -f`` prints only the lines after those already shown."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from client.conftest import Cli
from factories import register_and_login
from flowllama.client import watch
from flowllama.client.watch import event_line, new_lines
from flowllama.db.tables import Deployment
from flowllama.domain.lifecycle import Status
from flowllama.platform import Platform
from flowllama.services.deployment_status import change_status_and_notify
from flowllama.settings import Settings


def test_new_lines_after_the_overlap() -> None:
    assert new_lines([], ["a", "b"]) == ["a", "b"]
    assert new_lines(["a", "b", "c"], ["a", "b", "c"]) == []
    assert new_lines(["a", "b", "c"], ["b", "c", "d", "e"]) == ["d", "e"]
    assert new_lines(["a", "b"], ["x", "y"]) == ["x", "y"]  # the window moved past everything
    assert new_lines(["x", "x"], ["x", "x", "y"]) == ["y"]


def test_event_line() -> None:
    line = event_line({"at": "2026-12-05T04:00:00+00:00", "from_status": None,
                       "to_status": "pending", "reason": "created"})
    assert line == "2026-12-05 04:00:00  - → pending  created"


@pytest.fixture
def settings(settings: Settings, tiny_model_file: Path) -> Settings:
    """The test settings, with the tiny GGUF as ``local/tiny``."""
    return settings.model_copy(update={"models_dir": tiny_model_file.parent})


def _agent(platform: Platform, *steps: tuple[Status, str | None]) -> Callable[[float], None]:
    """What the agent would do between two polls: the next status change."""
    pending = iter(steps)

    def step(_seconds: float) -> None:
        target, message = next(pending)
        with platform.db.session() as session:
            row = session.scalars(select(Deployment)).one()
            change_status_and_notify(session, row, target, "test agent", message=message)

    return step


def test_deploy_wait_shows_each_event_and_fails_with_the_reason(
        cli: Cli, client: TestClient, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_and_login(client)
    assert cli.login().exit_code == 0
    monkeypatch.setattr(watch, "pause", _agent(
        platform, (Status.PROVISIONING, None), (Status.FAILED, "no capacity anywhere")))
    result = cli("deploy", "llama3.1:8b", "--cloud", "aws", "--context", "8192", "--wait")
    assert result.exit_code == 1
    assert "- → pending" in result.stdout and "provisioning → failed" in result.stdout
    assert "failed: no capacity anywhere" in result.stderr


def test_stop_wait_shows_only_the_new_events(
        cli: Cli, client: TestClient, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_and_login(client)
    assert cli.login().exit_code == 0
    monkeypatch.setattr(watch, "pause", _agent(
        platform, (Status.PROVISIONING, None), (Status.STARTING, None), (Status.RUNNING, None),
        (Status.STOPPING, None), (Status.STOPPED, None)))
    deployed = cli("deploy", "llama3.1:8b", "--cloud", "aws", "--context", "8192", "--wait")
    assert deployed.exit_code == 0 and "starting → running" in deployed.stdout
    stopped = cli("stop", "llama3-1-8b", "--wait")
    assert stopped.exit_code == 0, stopped.output
    assert "→ pending" not in stopped.stdout and "starting → running" not in stopped.stdout
    assert "running → stopping" in stopped.stdout and "llama3-1-8b is stopped" in stopped.stdout


def test_logs_follow_prints_only_new_lines_until_interrupted(
        cli: Cli, client: TestClient, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_and_login(client)
    assert cli.login().exit_code == 0
    assert cli("deploy", "local/tiny", "--cloud", "local", "--context", "512").exit_code == 0
    lines = ["booting"]
    platform.local_logs = lambda _id, tail: lines[-tail:]  # the local runtime's log file
    rounds = iter(range(3))

    def more_output(_seconds: float) -> None:
        round_ = next(rounds, None)
        if round_ is None:
            raise KeyboardInterrupt
        lines.extend([f"line {round_}a", f"line {round_}b"] if round_ != 1 else [])

    monkeypatch.setattr(watch, "pause", more_output)
    result = cli("logs", "tiny", "-f")
    assert result.exit_code == 130
    assert result.stdout.splitlines() == ["booting", "line 0a", "line 0b", "line 2a", "line 2b"]
