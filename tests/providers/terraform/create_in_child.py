"""Runs one TerraformProvisioner.create in this process, so a test can SIGKILL it mid-apply.

Usage: ``python create_in_child.py '<json config>'`` with root, stack, spec, placement and an
optional http backend base URL. Not a test module; started by test_provisioner_crash.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from flowllama.providers import DeploymentSpec, Placement
from flowllama.providers.terraform import (
    BackendConfig,
    TerraformOptions,
    TerraformProvisioner,
    terraform_data_stack,
)


def main(config: dict[str, object]) -> None:
    base_url = config.get("http_backend")
    provisioner = TerraformProvisioner(
        Path(str(config["root"])),
        [terraform_data_stack(Path(str(config["stack"])))],
        backend=BackendConfig.http(str(base_url)) if base_url else None,
        options=TerraformOptions(state_lock_timeout_s=0),
    )
    spec = DeploymentSpec(**config["spec"])  # type: ignore[arg-type]
    provisioner.create(spec, Placement(**config["placement"]))  # type: ignore[arg-type]


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
