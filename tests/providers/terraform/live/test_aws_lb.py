"""modules/aws-lb applied for real against moto (Terraform engine, hashicorp/aws 3.39): its
basic example (a VPC and an internal ALB forwarding to an Ollama target group checked on
/api/tags) applies, and destroy leaves nothing tagged."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flowllama.devtools.moto_override import write_moto_override
from flowllama.providers.terraform import Engine
from flowllama.providers.terraform.bundled import terraform_dir
from flowllama.providers.terraform.engine import engine_env, run_engine
from providers.terraform.live.aws_moto import REGION, Moto, tagged

pytestmark = pytest.mark.slow


def _run(engine: Engine, root: Path, moto: Moto, *args: str) -> str:
    result = run_engine(engine, [*args, "-input=false", "-no-color"], cwd=root,
                        env=engine_env(moto.env), timeout_s=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_lb_example_applies_and_destroys_to_nothing(moto: Moto, live_engine: Engine,
                                                        tmp_path: Path) -> None:
    modules = tmp_path / "modules"
    shutil.copytree(terraform_dir() / "modules", modules,
                    ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    root = modules / "aws-lb" / "examples" / "basic"
    write_moto_override(root, moto.url, REGION)
    _run(live_engine, root, moto, "init")
    _run(live_engine, root, moto, "apply", "-auto-approve")
    try:
        elb = moto.client("elbv2")
        balancers = [b for b in elb.describe_load_balancers()["LoadBalancers"]
                     if b["LoadBalancerName"].startswith("flowllama-lb-basic")]
        assert [(b["Type"], b["Scheme"]) for b in balancers] == [("application", "internal")]
        groups = elb.describe_target_groups(
            LoadBalancerArn=balancers[0]["LoadBalancerArn"])["TargetGroups"]
        assert [(g["Port"], g["HealthCheckPath"]) for g in groups] == [(11434, "/api/tags")]
        kinds = {item.split(":", 1)[0] for item in tagged(moto, "environment", "dev")}
        assert {"lb", "target-group", "vpc", "subnet", "security-group"} <= kinds, kinds
    finally:
        _run(live_engine, root, moto, "destroy", "-auto-approve")
    assert tagged(moto, "environment", "dev") == []
