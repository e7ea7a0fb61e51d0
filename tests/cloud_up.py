"""Runs ``flowllama up`` in which the agent places AWS and GCP offers with the ``cloudsim``
test provisioner (``cloud_lookalike.py``: real local llama.cpp servers reported at the cloud
placement given, under ``<data dir>/cloudsim``), so moves and spot reclaims of cloud
deployments run end to end on this machine. Everything else is the real ``flowllama up``.

Usage: ``python cloud_up.py up --port N --data-dir DIR`` (the CLI's own arguments). On exit it
stops the cloudsim servers, as ``flowllama up`` stops its local ones. Not a test module.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cloud_lookalike import KIND, LocalAsCloud
from flowllama.agent import composition, placement
from flowllama.cli import main
from flowllama.platform import Platform
from flowllama.providers.local import LocalProvisioner
from flowllama.providers.registry import ProvisionerRegistry

_started: list[LocalProvisioner] = []
_real_build_registry = composition.build_registry


def _build_registry(platform: Platform, local: LocalProvisioner) -> ProvisionerRegistry:
    """The real registry plus ``cloudsim``, whose servers live under ``<data dir>/cloudsim``
    (apart from local deployments', so the local orphan sweep leaves them alone)."""
    registry = _real_build_registry(platform, local)
    inner = LocalProvisioner(platform.settings.data_dir / "cloudsim", local.instances.models_dir,
                             local.options, catalog=local.catalog)
    _started.append(inner)
    registry.register(KIND, lambda: LocalAsCloud(inner))
    return registry


if __name__ == "__main__":
    for cloud in ("aws", "gcp"):  # the agent's default mapping, changed before it is built
        placement.PROVISIONER_BY_CLOUD[cloud] = KIND
    composition.build_registry = _build_registry
    try:
        main()
    finally:
        for provisioner in _started:
            provisioner.shutdown()
