"""The root disk a cloud server gets for its model: the one rule for both the size the stacks
provision and the disk the optimizer prices.

The server's one disk holds the OS image (with the NVIDIA driver and CUDA), Ollama, and the model
twice over at worst: the boot script's copy from the model cache (or a registry pull) can be
half-written beside a complete store when a boot is retried, and Ollama keeps partial blobs until
a pull ends. So the size is the image's base, plus two copies of the weights, plus headroom for
logs and Ollama's temporary files, never below the size every server got before it was sized
(the stacks' default, which the AWS Deep Learning AMI's own snapshot needs anyway).

The optimizer prices this size (``offers.fixed_monthly``) and puts it in the estimate
(``root_disk_gib``); the agent hands the estimate's value to the provisioner
(``DeploymentSpec.root_disk_gib``), so the disk priced is the disk provisioned.
"""

from __future__ import annotations

import math

GIB = 1024**3
OS_BASE_GIB = 75
"""The GPU image (the AWS Deep Learning Base AMI's snapshot is 75 GiB; GCP's accelerator image
is smaller) with room for Ollama's release and its CUDA libraries."""
HEADROOM = 0.10
"""Logs, the journal and Ollama's temporary files, as a share of the rest."""
FLOOR_GIB = 100
"""The stacks' ``root_volume_size_gb`` default: no server gets less."""
STEP_GIB = 10


def root_disk_gib(weights_bytes: int) -> int:
    """The root disk in GiB for a server whose model weights take ``weights_bytes`` (the
    sizing's ``weights_bytes``), rounded up to a multiple of :data:`STEP_GIB`, at least
    :data:`FLOOR_GIB`. Raises ``ValueError`` for a negative size."""
    if weights_bytes < 0:
        raise ValueError(f"weights_bytes must not be negative, got {weights_bytes}")
    needed = (OS_BASE_GIB + 2 * weights_bytes / GIB) * (1 + HEADROOM)
    return max(FLOOR_GIB, math.ceil(needed / STEP_GIB) * STEP_GIB)
