"""checkov over Terraform code, from its own venv in the tools cache.

checkov replaces python-hcl2's ``hcl2`` package with a fork, so it never goes into the
project's environment: :func:`ensure_checkov` builds ``<cache>/checkov-<version>/venv`` once
(pip install, pinned) and runs it as ``venv/bin/python -m checkov.main`` (a venv's scripts
embed its build path; its python does not). :func:`scan` runs it once over a directory tree
(``--framework terraform`` by default, or ``helm``) and returns every failed check and every
skip, so a caller can attribute them to modules and refuse skips that carry no justification.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowllama.devtools.tools_cache import ToolUnavailable, cached_directory, run_tool

CHECKOV_VERSION = "3.3.30"
NO_REASON = ("", "No comment provided")  # what checkov records for a skip without a reason


@dataclass(frozen=True)
class CheckResult:
    """One failed or skipped check on one resource."""

    check_id: str
    check_name: str
    file: Path
    resource: str
    lines: tuple[int, int]
    skip_reason: str | None  # None: failed; else the skip comment's justification

    @property
    def justified(self) -> bool:
        """A skip with a reason next to it (``#checkov:skip=CKV_X: reason``)."""
        return self.skip_reason is not None and self.skip_reason.strip() not in NO_REASON

    def __str__(self) -> str:
        state = "FAILED" if self.skip_reason is None else "skipped without a reason"
        return (f"{self.file}:{self.lines[0]}-{self.lines[1]}: {self.resource}: {self.check_id}"
                f" {self.check_name} ({state})")


def ensure_checkov(cache_dir: Path | None = None) -> Path:
    """The python of checkov's venv, built on first use (:class:`ToolUnavailable` if pip
    fails)."""
    entry = cached_directory(f"checkov-{CHECKOV_VERSION}", _build, cache_dir)
    return entry / "venv" / "bin" / "python"


def _build(work: Path, _final: Path) -> None:
    venv = work / "venv"
    run_tool([sys.executable, "-m", "venv", str(venv)], "python -m venv")
    run_tool([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
              "--disable-pip-version-check", f"checkov=={CHECKOV_VERSION}"],
             f"pip install checkov=={CHECKOV_VERSION}", timeout_s=1800)


def scan(directory: Path, python: Path, *, timeout_s: float = 900, framework: str = "terraform",
         extra_args: Sequence[str] = (), tool_dir: Path | None = None) -> list[CheckResult]:
    """Failed and skipped checks of checkov's ``framework`` over ``directory``.

    ``extra_args`` are passed on (e.g. ``--var-file`` values for the helm framework);
    ``tool_dir`` goes first on ``PATH`` (the helm framework runs ``helm`` from there)."""
    # No platform key may leak in: the scan stays local and sends nothing anywhere.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_", "PRISMA_"))}
    if tool_dir is not None:
        env["PATH"] = f"{tool_dir}{os.pathsep}{env.get('PATH', '')}"
    argv = [str(python), "-m", "checkov.main", "--directory", str(directory),
            "--framework", framework, "--output", "json", "--compact",
            "--skip-download", "--download-external-modules", "false", *extra_args]
    try:
        result = subprocess.run(  # noqa: S603 - our own argument list
            argv, capture_output=True, text=True, timeout=timeout_s, env=env, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolUnavailable(f"checkov: {exc}") from exc
    # Exit 1 means "some check failed"; anything else without JSON is checkov itself failing.
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise ToolUnavailable(f"checkov exited {result.returncode} without a JSON report:\n"
                              f"{result.stdout[-2000:]}{result.stderr[-2000:]}") from exc
    return parse_report(report)


def parse_report(report: Any) -> list[CheckResult]:
    """The failed and skipped checks of checkov's JSON report (one framework or a list)."""
    reports = report if isinstance(report, list) else [report]
    found: list[CheckResult] = []
    for one in reports:
        results = one.get("results", {}) if isinstance(one, dict) else {}
        for item in results.get("failed_checks", []):
            found.append(_result(item, None))
        for item in results.get("skipped_checks", []):
            reason = (item.get("check_result") or {}).get("suppress_comment") or ""
            found.append(_result(item, str(reason)))
    return found


def _result(item: dict[str, Any], skip_reason: str | None) -> CheckResult:
    lines = item.get("file_line_range") or [0, 0]
    return CheckResult(
        check_id=str(item.get("check_id", "")), check_name=str(item.get("check_name", "")),
        file=Path(item.get("file_abs_path") or item.get("file_path", "")),
        resource=str(item.get("resource", "")), lines=(int(lines[0]), int(lines[-1])),
        skip_reason=skip_reason)
