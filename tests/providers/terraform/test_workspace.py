"""Generated workspace files."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from flowllama.providers.terraform.workspace import Workspace


def test_write_read_and_remove(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path, "fl-a")
    workspace.write({"terraform": {}}, {"display_name": 'a"\n${b}'}, {"bucket": "b"})

    assert workspace.is_configured()
    assert workspace.read_variables() == {"display_name": 'a"\n${b}'}
    assert json.loads(workspace.backend_file.read_text()) == {"bucket": "b"}
    values_mode = stat.S_IMODE((workspace.path / "terraform.tfvars.json").stat().st_mode)
    assert values_mode == 0o600
    assert sorted(p.name for p in workspace.path.iterdir()) == [
        "backend.json", "main.tf.json", "terraform.tfvars.json"]

    workspace.write({"terraform": {}}, {}, {})
    assert not workspace.backend_file.exists()
    workspace.remove()
    workspace.remove()
    assert not workspace.exists()
    assert workspace.read_variables() is None
