"""The command line: db upgrade, user create, serve's role checks, version."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from flowllama import __version__
from flowllama.cli import app
from flowllama.db.session import Database
from flowllama.db.tables import User

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, db_url: str, database: Database) -> dict[str, str]:
    return {"FLOWLLAMA_DATA_DIR": str(tmp_path), "FLOWLLAMA_DATABASE_URL": db_url}


def test_version() -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_db_upgrade_is_idempotent(env: dict[str, str]) -> None:
    for _ in range(2):
        result = runner.invoke(app, ["db", "upgrade"], env=env)
        assert result.exit_code == 0, result.output


def test_user_create_admin(env: dict[str, str], database: Database) -> None:
    result = runner.invoke(
        app, ["user", "create", "--email", "Root@Example.com", "--admin", "--password-stdin"],
        input="a long admin passphrase\n", env=env,
    )
    assert result.exit_code == 0, result.output
    assert "root@example.com" in result.output
    with database.session() as session:
        user = session.scalars(select(User)).one()
    assert user.is_admin
    assert "passphrase" not in user.password_hash


def test_user_create_rejects_weak_password(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["user", "create", "--email", "a@example.com",
                                 "--password-stdin"], input="short\n", env=env)
    assert result.exit_code == 1
    assert "at least 10" in result.output


def test_serve_unknown_role() -> None:
    result = runner.invoke(app, ["serve", "kitchen"])
    assert result.exit_code == 2


def test_dev_make_test_model(tmp_path: Path) -> None:
    target = tmp_path / "tiny.gguf"
    result = runner.invoke(app, ["dev", "make-test-model", str(target)])
    assert result.exit_code == 0, result.output
    assert target.stat().st_size > 1000
    assert target.read_bytes()[:4] == b"GGUF"


def test_estimate_table_and_json(tmp_path: Path) -> None:
    env = {"FLOWLLAMA_DATA_DIR": str(tmp_path)}
    table = runner.invoke(app, ["estimate", "llama3.1:8b", "--context", "8192", "--spot", "high"],
                          env=env)
    assert table.exit_code == 0, table.output
    assert "AWS" in table.output and "GCP" in table.output
    assert "$/month" in table.output
    as_json = runner.invoke(app, ["estimate", "llama3.2:1b", "--gpu", "L4", "--json"], env=env)
    assert as_json.exit_code == 0, as_json.output
    body = json.loads(as_json.output)
    assert body["recommended"]["gpu"] == "L4"
    assert body["source"] == "snapshot"


def test_estimate_unknown_model_exits_1(tmp_path: Path) -> None:
    result = runner.invoke(app, ["estimate", "llama3.1:9b"],
                           env={"FLOWLLAMA_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert "llama3.1:8b" in result.output


def test_web_export_writes_a_site_pointed_at_the_api(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = runner.invoke(app, ["web", "export", str(site), "--api-url",
                                 "https://api.example.com/"])
    assert result.exit_code == 0, result.output
    assert "FLOWLLAMA_WEB_ORIGINS" in result.output
    for page in ("index.html", "login.html", "signup.html", "reset.html", "app.html"):
        assert (site / page).is_file()
    config = (site / "assets" / "config.js").read_text()
    assert '"apiUrl": "https://api.example.com"' in config
    assert '"gatewayUrl": "https://api.example.com"' in config


def test_web_export_refuses_a_url_that_is_not_http(tmp_path: Path) -> None:
    result = runner.invoke(app, ["web", "export", str(tmp_path / "site"), "--api-url",
                                 "javascript:alert(1)"])
    assert result.exit_code == 2
    assert "api_url must be an absolute http(s) URL" in result.output
    assert not (tmp_path / "site").exists()


def test_pricing_refresh_without_cloud_sdks_warns_and_keeps_the_snapshot(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flowllama.catalog import refresh

    for module in ("boto3", "botocore", "botocore.exceptions", "google", "google.cloud",
                   "google.cloud.billing_v1"):
        monkeypatch.setitem(sys.modules, module, None)  # a default install has neither SDK
    refresh.clear_cache()
    result = runner.invoke(app, ["pricing", "refresh", "--force"],
                           env={"FLOWLLAMA_DATA_DIR": str(tmp_path)})
    refresh.clear_cache()
    assert result.exit_code == 0, result.output
    assert "boto3 is not installed" in result.output
    assert "google-cloud-billing is not installed" in result.output
    assert "Warning" in result.output and "flowllama[aws]" in result.output
    assert not refresh.price_cache_path(tmp_path).exists()  # the snapshot stays in use


def test_estimate_resolves_a_bare_name_and_can_refuse_cpu(tmp_path: Path) -> None:
    env = {"FLOWLLAMA_DATA_DIR": str(tmp_path)}
    body = json.loads(runner.invoke(app, ["estimate", "mistral", "--json"], env=env).output)
    assert body["model"] == "mistral:7b" and body["context_size"] == 4096
    small = json.loads(runner.invoke(app, ["estimate", "qwen2.5:0.5b", "--json"], env=env).output)
    assert small["recommended"]["gpu"] is None
    gpu = json.loads(runner.invoke(app, ["estimate", "qwen2.5:0.5b", "--no-cpu", "--json"],
                                   env=env).output)
    assert gpu["recommended"]["gpu"] is not None


def test_models_lists_the_catalog_as_json_and_a_table(tmp_path: Path) -> None:
    env = {"FLOWLLAMA_DATA_DIR": str(tmp_path)}
    listed = runner.invoke(app, ["models", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    names = [model["name"] for model in json.loads(listed.output)]
    assert "mistral:7b" in names and len(names) >= 24
    table = runner.invoke(app, ["models"], env=env)
    assert table.exit_code == 0 and "qwen2.5:0.5b" in table.output
    assert "flowllama models add smollm2-135m" in table.output
    unknown = runner.invoke(app, ["models", "add", "gpt-5"], env=env)
    assert unknown.exit_code == 1 and "smollm2-135m" in unknown.output


def test_matrix_and_compare_reports(tmp_path: Path) -> None:
    env = {"FLOWLLAMA_DATA_DIR": str(tmp_path)}
    matrix = runner.invoke(app, ["models", "matrix", "--csv"], env=env)
    assert matrix.exit_code == 0, matrix.output
    lines = matrix.output.splitlines()
    assert lines[0].startswith("model,context,vram_gb") and len(lines) > 60
    compare = runner.invoke(app, ["pricing", "compare"], env=env)
    assert compare.exit_code == 0, compare.output
    assert "A100" in compare.output and "any CPU-only" in compare.output
