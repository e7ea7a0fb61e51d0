"""``flowllama cloud init|destroy`` for real (engine, state, outputs) on the provider-free
stand-in foundation stack: progress per Terraform command, the outputs table, clear failures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowllama import cloud_commands
from flowllama.cli import app
from flowllama.errors import ConfigError
from flowllama.providers.terraform import StackDefinition, default_engine
from flowllama.providers.terraform.cloud_stacks import AWS_FOUNDATION_OUTPUTS
from flowllama.providers.terraform.foundation import Foundations
from flowllama.settings import Settings

STAND_IN = StackDefinition(
    name="aws-foundation", cloud="aws",
    source=Path(__file__).parent / "providers" / "terraform" / "stacks" / "foundation",
    variables={"name": "string", "region": "string", "environment": "string",
               "tags": "map(string)"},
    outputs=tuple(AWS_FOUNDATION_OUTPUTS))


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        engine = default_engine()
    except ConfigError as exc:
        pytest.skip(f"no Terraform engine here: {exc}")

    def build(settings: Settings, environment: str | None,
              on_command: Callable[[str, str], None]) -> Foundations:
        values = {"aws": {"environment": environment or settings.clouds.aws.environment}}
        return Foundations(settings.data_dir / "terraform", [STAND_IN], engine=engine,
                           cloud_values=values, on_command=on_command)

    monkeypatch.setattr(cloud_commands, "_foundations", build)


def test_init_applies_with_progress_prints_the_outputs_and_destroy_removes_it(
        stand_in: None, tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["--region", "us-east-1", "--environment", "qa", "--data-dir", str(tmp_path)]
    result = runner.invoke(app, ["cloud", "init", "aws", *args])
    assert result.exit_code == 0, result.output
    for line in ("terraform init in foundation-aws-us-east-1-qa", "terraform apply"):
        assert line in result.output
    assert "subnet-a-us-east-1" in result.output and "model_bucket_name" in result.output
    workspace = tmp_path / "terraform" / "foundation-aws-us-east-1-qa"
    assert (workspace / "terraform.tfstate").is_file()

    result = runner.invoke(app, ["cloud", "destroy", "aws", *args, "--yes"])
    assert result.exit_code == 0, result.output
    assert "terraform destroy" in result.output and not workspace.exists()


@pytest.mark.parametrize(("args", "message"), [
    (["cloud", "init", "azure", "--region", "eastus"], "Unknown cloud 'azure'"),
    (["cloud", "init", "aws", "--region", "us-east-1", "--environment", "Bad Env"],
     "Init failed"),
    (["cloud", "init", "aws", "--region", "../x"], "not a cloud region name"),
])
def test_bad_arguments_fail_with_a_message(stand_in: None, tmp_path: Path, args: list[str],
                                           message: str) -> None:
    result = CliRunner().invoke(app, [*args, "--data-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert message in result.output
