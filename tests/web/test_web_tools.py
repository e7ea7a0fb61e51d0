"""The web UI's quality checks (web-tools/): ESLint, Prettier and ``tsc --checkJs --strict``
pass over src/flowllama/web/static, and the type check catches deliberate errors.

Node and npm come from the machine (``.ci/run`` installs them and runs ``npm ci`` for
web-tools); outside CI a missing Node skips with the reason, under CI it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "web-tools"
BIN = TOOLS / "node_modules" / ".bin"
STATIC = "src/flowllama/web/static"
FIXTURE = Path(__file__).parent / "fixtures" / "type_errors.js"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"required under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def tools() -> Path:
    """web-tools/node_modules/.bin, installed with ``npm ci`` when it is not there yet."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        _unavailable("Node.js and npm are not installed (Debian packages nodejs, npm)")
    if not (BIN / "tsc").exists():
        result = subprocess.run(["npm", "ci", "--prefix", str(TOOLS), "--prefer-offline",
                                 "--no-audit", "--no-fund"], capture_output=True, text=True,
                                check=False, timeout=300)
        if result.returncode != 0:
            _unavailable(f"npm ci in web-tools failed: {result.stderr[-500:]}")
    return BIN


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False, timeout=180)


def test_eslint_is_clean(tools: Path) -> None:
    result = _run([str(tools / "eslint"), "--config", "web-tools/eslint.config.js",
                   "--max-warnings", "0", STATIC])
    assert result.returncode == 0, result.stdout + result.stderr


def test_prettier_is_clean(tools: Path) -> None:
    result = _run([str(tools / "prettier"), "--config", "web-tools/.prettierrc.json", "--check",
                   STATIC])
    assert result.returncode == 0, result.stdout + result.stderr


def test_strict_type_check_is_clean(tools: Path) -> None:
    config = json.loads((TOOLS / "tsconfig.json").read_text())
    assert config["compilerOptions"]["strict"] is True
    assert config["compilerOptions"]["checkJs"] is True
    result = _run([str(tools / "tsc"), "--project", "web-tools/tsconfig.json"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_type_check_catches_deliberate_errors(tools: Path, tmp_path: Path) -> None:
    tsconfig = tmp_path / "tsconfig.json"
    tsconfig.write_text(json.dumps({"extends": str(TOOLS / "tsconfig.json"),
                                    "include": [str(FIXTURE)]}))
    result = _run([str(tools / "tsc"), "--project", str(tsconfig)])
    assert result.returncode != 0
    errors = [line for line in result.stdout.splitlines() if "error TS" in line]
    assert all("type_errors.js" in line for line in errors), errors  # none from the UI itself
    codes = {line.split("error ")[1].split(":")[0] for line in errors}
    assert codes == {"TS2345", "TS2339", "TS7006"}, result.stdout
