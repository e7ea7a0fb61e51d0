"""Benchmark the Terraform engine on the aws-ollama stack (issue 13): wall time and engine CPU of
``init``, ``plan``, ``apply`` and ``destroy`` of one deployment's server against moto.

Setup: a moto server on 127.0.0.1, the offline provider mirror (hashicorp/aws 3.39.0), and the
aws-foundation stack applied once (not measured). Each repeat renders a fresh workspace for a new
deployment exactly as the agent does (``StackDefinition.root_module``, ``terraform.tfvars.json``)
and runs the four commands through the provisioner's own session code. CPU is the user + system
time of the finished Terraform processes and their provider plugins (``RUSAGE_CHILDREN``
deltas; moto's own CPU is not included: it is collected only when moto exits). Each figure is
the median over ``--repeats`` (1-5).

Run: python3 bench/terraform.py [--repeats 3] [--json]
"""

from __future__ import annotations

import os
import sys

# ``python3 bench/terraform.py`` puts bench/ first on sys.path, where bench/queue.py would shadow
# the standard library's ``queue`` (which urllib3 imports).
if sys.path and os.path.abspath(sys.path[0] or os.curdir) == os.path.dirname(
    os.path.abspath(__file__)
):
    sys.path.pop(0)

import argparse
import json
import resource
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx

from flowllama.devtools.terraform_mirror import ensure_mirror
from flowllama.providers import DeploymentSpec, Placement
from flowllama.providers.terraform import TerraformOptions, default_engine
from flowllama.providers.terraform.cloud_stacks import aws_foundation_stack, aws_ollama_stack
from flowllama.providers.terraform.engine import Engine, engine_env
from flowllama.providers.terraform.foundation import Foundations
from flowllama.providers.terraform.session import held_session
from flowllama.providers.terraform.stacks import META_OUTPUT, stack_variables

REGION = "us-east-1"
STEPS = ("init", "plan", "apply", "destroy")
SERVICES = ("ec2", "autoscaling", "iam", "sts", "s3", "elb", "cloudwatchlogs", "kms", "ssm")
OPTIONS = TerraformOptions(state_lock_timeout_s=0, command_timeout_s=600)


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(step: Callable[[], Any]) -> tuple[float, float]:
    """Wall seconds and engine CPU seconds of one command."""
    cpu, wall = children_cpu_s(), time.perf_counter()
    step()
    return time.perf_counter() - wall, children_cpu_s() - cpu


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on a free 127.0.0.1 port; its URL."""
    with socket.socket() as sock:  # moto's CLI takes no port 0: pick a free one
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                "-p", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{url}/moto-api/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def provider_settings(url: str) -> dict[str, dict[str, Any]]:
    return {"aws": {"s3_force_path_style": True, "skip_credentials_validation": True,
                    "skip_metadata_api_check": True, "skip_requesting_account_id": True,
                    "skip_get_ec2_platforms": True, "skip_region_validation": True,
                    "endpoints": [{service: url for service in SERVICES}]}}


def one_repeat(root: Path, engine: Engine, env: dict[str, str], settings: dict[str, Any],
               values: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """init/plan/apply/destroy of a fresh deployment's workspace."""
    stack = aws_ollama_stack()
    spec = DeploymentSpec(deployment_id=uuid.uuid4().hex, user_id="bench",
                          name="bench", model="llama3.1:8b", context_size=8192, cloud="aws")
    placement = Placement(cloud="aws", region=REGION, instance_type="g6.xlarge")
    variables = stack_variables(stack, spec, placement, values)
    name = f"fl-{spec.deployment_id}"
    timings: dict[str, tuple[float, float]] = {}
    with held_session(root, name, "bench", engine=engine, options=OPTIONS,
                      env=engine_env(env), record=lambda _label: None) as session:
        workspace = session.workspace
        tree = stack.root_module(workspace.path, "local", variables, settings["aws"])
        workspace.write(tree, {**variables, META_OUTPUT: {}}, {})
        timings["init"] = measure(session.init)
        timings["plan"] = measure(session.plan)
        timings["apply"] = measure(session.apply_plan)
        timings["destroy"] = measure(session.destroy)
        session.discard()
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, choices=range(1, 6))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    engine = default_engine()
    mirror = ensure_mirror()
    env = {"TF_CLI_CONFIG_FILE": str(mirror.cli_config), "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION}
    os.environ.update(env)
    with moto_server() as url, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = provider_settings(url)
        foundations = Foundations(root, [aws_foundation_stack()], engine=engine, env=env,
                                  provider_settings=settings, options=OPTIONS,
                                  cloud_values={"aws": {"environment": "bench"}})
        foundation = foundations.apply("aws", REGION)
        ec2 = boto3.client("ec2", endpoint_url=url, region_name=REGION)
        image = sorted(i["ImageId"] for i in ec2.describe_images(Owners=["amazon"])["Images"])[0]
        values = {"environment": "bench", "image_id": image, "ollama_sha256": "0" * 64,
                  "foundation": foundation}
        runs = [one_repeat(root, engine, env, settings, values) for _ in range(args.repeats)]
        foundations.destroy("aws", REGION)
    result = {step: {"wall_s": round(statistics.median(r[step][0] for r in runs), 2),
                     "cpu_s": round(statistics.median(r[step][1] for r in runs), 2)}
              for step in STEPS}
    meta = {"engine": engine.name, "repeats": args.repeats, "python": sys.version.split()[0]}
    if args.json:
        print(json.dumps({"steps": result, **meta}, indent=2))
        return 0
    print(f"aws-ollama against moto, engine {engine.name}, median of {args.repeats}\n")
    print("| step | wall s | engine CPU s |\n|---|---:|---:|")
    for step in STEPS:
        print(f"| {step} | {result[step]['wall_s']:.2f} | {result[step]['cpu_s']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
