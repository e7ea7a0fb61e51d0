"""The log lines of the whole test run, through the EFK pipeline's rules (runs last).

Every JSON line the session's FlowLlama processes and in-process apps wrote (tests/log_capture.py)
is wrapped as the container runtime writes it, parsed with Fluent Bit's CRI parser expression,
and checked for what Elasticsearch needs (flowllama.devtools.log_pipeline). Neither Fluent Bit
nor Elasticsearch runs here; what they would do with these lines is what this asserts.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from factories import STRONG_PASSWORD
from flowllama.devtools.log_pipeline import check_lines
from flowllama.logging import MAX_LINE_BYTES, configure_logging, get_logger
from log_capture import captured_log_lines, is_log_line, process_log_lines


def _exercise(client: TestClient) -> None:
    """A little of everything a role logs: requests that succeed, fail validation, are
    refused and are not found, an exception with its traceback, a long value."""
    email = "pipeline@example.com"
    client.get("/health", headers={"X-Request-ID": "pipeline-1"})
    client.post("/api/auth/register", json={"email": email, "password": STRONG_PASSWORD})
    client.post("/api/auth/login", json={"email": email, "password": "wrong password"})
    client.post("/api/auth/register", json={"email": "not-an-email"})
    client.get("/api/deployments/does-not-exist")
    log = get_logger("pipeline")
    try:
        raise RuntimeError("boom " + "x" * (2 * MAX_LINE_BYTES))
    except RuntimeError:
        log.exception("pipeline.failed", attempt=1)
    log.info("pipeline.long_value", detail="y" * (3 * MAX_LINE_BYTES))


@pytest.mark.log_pipeline_last
def test_every_log_line_of_the_run_fits_fluent_bit_and_elasticsearch(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(role="api", level="debug")
    _exercise(client)
    own = [("test_log_pipeline", line) for line in capsys.readouterr().out.splitlines()
           if is_log_line(line)]
    processes = list(process_log_lines())
    captured = captured_log_lines()
    report = check_lines([*own, *processes, *captured], MAX_LINE_BYTES)
    print(f"log pipeline: {report.lines} lines ({len(processes)} from FlowLlama processes, "
          f"{len(captured)} from captured test output, {len(own)} from this test), "
          f"{report.documents} JSON documents, {len(report.fields)} distinct fields")
    assert len(own) >= 8, "this test's own requests must have logged"
    problems = report.all_problems()
    assert not problems, "\n".join(problems[:50])
    # A role's stdout carries only JSON: anything else reaches Kibana as one unparsed string.
    assert not report.not_json, "\n".join(report.not_json[:20])
