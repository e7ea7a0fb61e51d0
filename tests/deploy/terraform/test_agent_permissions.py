"""The agent's AWS policy (modules/aws-iam) covers every AWS call the agent makes itself, and its
README lists every read-only action the policy grants."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
IAM = ROOT / "deploy" / "terraform" / "modules" / "aws-iam"
# Where the agent calls AWS through boto3 outside Terraform (the spot-interruption check).
AGENT_SOURCES = sorted((ROOT / "src" / "flowllama" / "providers" / "terraform").glob("*.py"))


def _camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def _agent_ec2_calls() -> set[str]:
    """The EC2 API names the agent's boto3 code calls (direct calls and paginators)."""
    calls: set[str] = set()
    for source in AGENT_SOURCES:
        text = source.read_text(encoding="utf-8")
        calls.update(re.findall(r'get_paginator\("(\w+)"\)', text))
        calls.update(re.findall(r"\bclient\.(describe_\w+|list_\w+)\(", text))
    return {f"ec2:{_camel(call)}" for call in calls}


def _describe_statement_actions() -> set[str]:
    """The actions of the agent policy's ``Describe`` statement."""
    text = (IAM / "main.tf").read_text(encoding="utf-8")
    statement = text.split('Sid    = "Describe"', 1)[1].split("Resource", 1)[0]
    return set(re.findall(r'"(\w+:\w+)"', statement))


def test_the_agent_policy_allows_every_call_the_agent_makes() -> None:
    calls = _agent_ec2_calls()
    # The scan finds the interruption check's calls; an empty scan would prove nothing.
    assert {"ec2:DescribeInstances", "ec2:DescribeSpotInstanceRequests"} <= calls
    assert calls - _describe_statement_actions() == set()


def test_the_readme_lists_every_describe_action() -> None:
    readme = (IAM / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| `Describe` |"))
    listed = set(re.findall(r"`(?:\w+:)?(\w+)`", row))
    assert {action.split(":")[1] for action in _describe_statement_actions()} - listed == set()
