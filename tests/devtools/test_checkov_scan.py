"""checkov for real (its venv in the tools cache) on a small root with a failing check, a skip
without a reason and a justified skip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flowllama.devtools.checkov_scan import ensure_checkov, parse_report, scan
from flowllama.devtools.tools_cache import ToolUnavailable

CODE = '''
resource "aws_security_group" "open" {
  name = "open"
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "no_reason" {
  #checkov:skip=CKV_AWS_24
  name = "no-reason"
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "reasoned" {
  #checkov:skip=CKV_AWS_24: a bastion for the test, closed by the allow-list
  name = "reasoned"
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
'''


# Building checkov's venv (first use only) takes about two minutes on two cores.
pytestmark = pytest.mark.timeout(1200)


@pytest.fixture(scope="module")
def python() -> Path:
    try:
        return ensure_checkov()
    except ToolUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"required under CI: {exc}")
        pytest.skip(str(exc))


def test_failures_and_skips_are_reported_with_their_justification(
        python: Path, tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(CODE)
    ssh = {(r.resource, r.justified, r.skip_reason is None)
           for r in scan(tmp_path, python) if r.check_id == "CKV_AWS_24"}
    assert ssh == {("aws_security_group.open", False, True),
                   ("aws_security_group.no_reason", False, False),
                   ("aws_security_group.reasoned", True, False)}


def test_a_tree_without_terraform_resources_has_no_results(python: Path,
                                                          tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('variable "x" {\n  type = string\n}\n')
    assert scan(tmp_path, python) == []


def test_reports_of_several_frameworks_are_all_read() -> None:
    item = {"check_id": "CKV_X", "check_name": "n", "file_abs_path": "/a/main.tf",
            "resource": "aws_s3_bucket.b", "file_line_range": [3, 9],
            "check_result": {"suppress_comment": "because"}}
    report = [{"results": {"failed_checks": [item], "skipped_checks": []}},
              {"results": {"failed_checks": [], "skipped_checks": [item]}}]
    found = parse_report(report)
    assert [(r.skip_reason, r.justified, r.lines) for r in found] == [
        (None, False, (3, 9)), ("because", True, (3, 9))]
    assert str(found[0]) == "/a/main.tf:3-9: aws_s3_bucket.b: CKV_X n (FAILED)"
