"""A deployment's Terraform working directory: ``<root>/<name>/`` and its lock file.

Files are generated, never hand-edited: ``main.tf.json`` (the stack's root module),
``terraform.tfvars.json`` (all values, user text included, as JSON), ``backend.json`` (backend
settings, remote backends only). With the local backend the state lives here too, so the directory
is removed only after a confirmed destroy; with a remote backend it is a cache that can be
rebuilt from a handle.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

MAIN_FILE = "main.tf.json"
VARS_FILE = "terraform.tfvars.json"
BACKEND_FILE = "backend.json"
PLAN_FILE = "deployment.tfplan"


class Workspace:
    """Paths and file writes for one deployment's workspace under ``root``."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.name = name
        self.path = root / name
        self.lock_path = root / f"{name}.lock"

    @property
    def backend_file(self) -> Path:
        """Where backend settings are written (absent for the local backend)."""
        return self.path / BACKEND_FILE

    @property
    def plan_file(self) -> Path:
        """The saved plan between ``plan`` and ``apply`` (removed after apply)."""
        return self.path / PLAN_FILE

    def exists(self) -> bool:
        """Whether the directory exists."""
        return self.path.is_dir()

    def is_configured(self) -> bool:
        """Whether a root module has been written."""
        return (self.path / MAIN_FILE).is_file()

    def write(
        self,
        root_module: dict[str, Any],
        variables: dict[str, Any],
        backend_settings: dict[str, Any],
    ) -> None:
        """(Re)write the generated files; values files are private (0600)."""
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_json(self.path / MAIN_FILE, root_module, 0o644)
        _write_json(self.path / VARS_FILE, variables, 0o600)
        if backend_settings:
            _write_json(self.backend_file, backend_settings, 0o600)
        else:
            self.backend_file.unlink(missing_ok=True)

    def read_variables(self) -> dict[str, Any] | None:
        """The values last written, or ``None`` if there are none."""
        try:
            data = json.loads((self.path / VARS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def remove(self) -> None:
        """Delete the directory and everything in it (state included: confirm destroy first)."""
        if self.exists():
            shutil.rmtree(self.path)


def _write_json(path: Path, data: Any, mode: int) -> None:
    # Write-then-rename: a crash never leaves Terraform a half-written file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True, allow_nan=False)
            handle.write("\n")
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
