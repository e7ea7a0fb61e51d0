"""``flowllama external register``: straight against the database, idempotent, the secret only
from the environment and never printed, clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowllama.cli import app
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, ExternalServer, User

runner = CliRunner()
SECRET = "cli-upstream-secret"


@pytest.fixture
def env(tmp_path: Path, db_url: str, database: Database) -> dict[str, str]:
    with database.session() as session:
        session.add(User(email="ops@example.com", password_hash="x"))
    return {"FLOWLLAMA_DATA_DIR": str(tmp_path), "FLOWLLAMA_DATABASE_URL": db_url,
            "UPSTREAM_TOKEN": SECRET}


def _register(env: dict[str, str], *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, [
        "external", "register", "--name", "shared", "--owner", "ops@example.com",
        "--base-url", "http://ollama.flowllama.svc:11434", "--api", "ollama", *extra], env=env)
    return result.exit_code, result.output


def test_register_then_rerun_is_unchanged_then_updates(env: dict[str, str],
                                                        database: Database) -> None:
    code, output = _register(env, "--secret-env", "UPSTREAM_TOKEN", "--price-per-hour", "1.2",
                             "--model", "llama3.2:1b", "--json")
    assert code == 0, output
    first = json.loads(output)
    assert (first["created"], first["changed"], first["status"]) == (True, True, "pending")
    code, output = _register(env, "--secret-env", "UPSTREAM_TOKEN", "--price-per-hour", "1.2",
                             "--model", "llama3.2:1b")
    assert code == 0 and "Unchanged" in output, output
    code, output = _register(env, "--price-per-hour", "2", "--model", "llama3.2:1b")
    assert code == 0 and "Updated" in output, output
    assert SECRET not in output
    with database.session() as session:
        deployment = session.get(Deployment, first["id"])
        server = session.get(ExternalServer, first["id"])
        assert deployment is not None and server is not None
        assert deployment.estimate is not None
        assert deployment.estimate["candidates"][0]["price_per_hour"] == 2.0
        assert server.secret is not None and SECRET not in server.secret  # kept, sealed


@pytest.mark.parametrize(("extra", "code", "message"), [
    (["--secret-env", "NOT_SET_ANYWHERE"], 2, "NOT_SET_ANYWHERE is unset or empty"),
    (["--api", "grpc"], 2, "api"),
    (["--base-url", "http://169.254.169.254/"], 1, "base_url: That is a cloud metadata"),
])
def test_bad_input_is_a_clear_error(env: dict[str, str], extra: list[str], code: int,
                                    message: str) -> None:
    result = runner.invoke(app, [
        "external", "register", "--name", "shared", "--owner", "ops@example.com",
        "--base-url", "http://10.0.0.1:11434", "--api", "ollama", *extra], env=env)
    assert result.exit_code == code, result.output
    assert message in result.output


def test_an_unknown_owner_is_refused(env: dict[str, str]) -> None:
    result = runner.invoke(app, [
        "external", "register", "--name", "shared", "--owner", "nobody@example.com",
        "--base-url", "http://10.0.0.1:11434", "--api", "ollama"], env=env)
    assert result.exit_code == 1 and "owner_email: No account" in result.output
