"""Where FlowLlama's own Terraform modules and stacks are on this machine.

A wheel carries them as ``flowllama/terraform`` (copied from ``deploy/terraform`` by
``setup.py``); a source checkout or editable install reads ``deploy/terraform`` directly.
"""

from __future__ import annotations

from pathlib import Path

from flowllama.errors import ConfigError

_PACKAGE_DIR = Path(__file__).resolve().parents[2]  # .../flowllama
PACKAGED = _PACKAGE_DIR / "terraform"
CHECKOUT = _PACKAGE_DIR.parents[1] / "deploy" / "terraform"


def terraform_dir() -> Path:
    """The directory holding ``modules/`` and ``stacks/``: the packaged copy first."""
    for candidate in (PACKAGED, CHECKOUT):
        if (candidate / "stacks").is_dir():
            return candidate
    raise ConfigError(f"FlowLlama's Terraform stacks are missing (looked in {PACKAGED} and "
                      f"{CHECKOUT}); reinstall the package")


def stack_dir(name: str) -> Path:
    """``<terraform dir>/stacks/<name>``."""
    return terraform_dir() / "stacks" / name
