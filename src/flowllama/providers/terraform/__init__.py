"""Terraform provisioner: stacks applied by the real Terraform engine, one workspace each."""

from flowllama.providers.terraform.backend import BackendConfig
from flowllama.providers.terraform.engine import (
    BinaryEngine,
    Engine,
    LibTerraformEngine,
    default_engine,
)
from flowllama.providers.terraform.options import TerraformOptions
from flowllama.providers.terraform.provisioner import TerraformProvisioner
from flowllama.providers.terraform.stacks import StackDefinition, terraform_data_stack
from flowllama.providers.terraform.state_lock import StateLocked
from flowllama.providers.terraform.workspace_lock import WorkspaceBusy

__all__ = [
    "BackendConfig",
    "BinaryEngine",
    "Engine",
    "LibTerraformEngine",
    "StackDefinition",
    "StateLocked",
    "TerraformOptions",
    "TerraformProvisioner",
    "WorkspaceBusy",
    "default_engine",
    "terraform_data_stack",
]
