"""Every JSON log line the test session makes, for the log-pipeline check that runs last.

Two sources, both what a container's stdout would carry: the output files of the FlowLlama
processes tests start (``flowllama up``, ``flowllama serve <role>``: they call
:func:`keep_process_log`), read when the check runs, and the log lines in the captured output
of every test phase (in-process apps, CLI, workers). Captured output is only read from the
reports pytest makes anyway, so collecting costs the suite nothing measurable. A test marked
``log_pipeline_last`` is moved to the end of the run (tests/test_log_pipeline.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowllama.logging import configure_logging

_process_logs: list[Path] = []
_captured: list[tuple[str, str]] = []
# Keys every line of flowllama.logging's JSON renderer has: other JSON a test prints is not a
# log line.
LOG_LINE_KEYS = ("event", "level", "timestamp")


def keep_process_log(path: Path) -> None:
    """Have the log-pipeline check read ``path``, the stdout (and stderr) file of a FlowLlama
    process a test started."""
    _process_logs.append(path)


def process_log_lines() -> Iterator[tuple[str, str]]:
    """``(source, line)`` for every line of every kept process log still on disk."""
    for path in _process_logs:
        if path.exists():
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                if line.strip():
                    yield f"{path.parent.name}/{path.name}:{number}", line


def captured_log_lines() -> list[tuple[str, str]]:
    """``(source, line)`` for the log lines of every test phase's captured output so far."""
    return list(_captured)


def is_log_line(line: str) -> bool:
    """A line flowllama.logging's JSON renderer wrote."""
    if not line.startswith("{"):
        return False
    try:
        parsed = json.loads(line)
    except ValueError:
        return False
    return isinstance(parsed, dict) and all(key in parsed for key in LOG_LINE_KEYS)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "log_pipeline_last: runs after every other test")
    # In-process apps log as the roles do (JSON, info and up) from the first test on, so their
    # lines are checked too; a test that needs another configuration sets its own.
    configure_logging(role="test")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    last = [item for item in items if item.get_closest_marker("log_pipeline_last")]
    if last:
        items[:] = [item for item in items if item not in last] + last


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Each report repeats the sections of the phases before it: take only this phase's.
    for name, content in report.sections:
        if name.startswith("Captured std") and name.endswith(f" {report.when}"):
            for line in content.splitlines():
                if is_log_line(line):
                    _captured.append((f"{report.nodeid} ({report.when})", line))
