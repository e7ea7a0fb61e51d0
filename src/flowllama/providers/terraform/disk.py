"""The root disk a cloud server needs for its model.

The server's one disk holds the OS image (with the NVIDIA driver and CUDA), Ollama, and the model
twice over at worst: the boot script's copy from the model cache (or a registry pull) can be
half-written beside a complete store when a boot is retried, and Ollama keeps partial blobs until
a pull ends. So the size is the image's base, plus two copies of the weights, plus headroom for
logs and Ollama's temporary files, never below the size every server got before it was sized
(the stacks' default, which the AWS Deep Learning AMI's own snapshot needs anyway).
"""

from __future__ import annotations

import math

from flowllama.catalog.models import ModelCatalog, default_catalog
from flowllama.errors import InvalidInput, NotFound

GIB = 1024**3
OS_BASE_GIB = 75
"""The GPU image (the AWS Deep Learning Base AMI's snapshot is 75 GiB; GCP's accelerator image
is smaller) with room for Ollama's release and its CUDA libraries."""
HEADROOM = 0.10
"""Logs, the journal and Ollama's temporary files, as a share of the rest."""
FLOOR_GIB = 100
"""The stacks' ``root_volume_size_gb`` default: no server gets less."""
STEP_GIB = 10


def root_disk_gib(model: str, catalog: ModelCatalog | None = None) -> int:
    """The root disk in GiB for a server of ``model`` (its weights size from the catalog),
    rounded up to a multiple of 10; :data:`FLOOR_GIB` for a name the catalog does not list
    (only catalog models are placed on clouds, since the optimizer sizes from the catalog)."""
    try:
        weights = (catalog or default_catalog()).get(model).size_bytes / GIB
    except (NotFound, InvalidInput):  # not a catalog name: nothing to size from
        return FLOOR_GIB
    needed = (OS_BASE_GIB + 2 * weights) * (1 + HEADROOM)
    return max(FLOOR_GIB, math.ceil(needed / STEP_GIB) * STEP_GIB)
