"""The external provisioner: adopts an inference server that already exists (``cloud:
external``) and never creates or destroys one. See :mod:`.provisioner`."""

from flowllama.providers.external.provisioner import (
    EXTERNAL_PLACEMENT_KIND,
    ExternalProvisioner,
    Registrations,
)

__all__ = ["EXTERNAL_PLACEMENT_KIND", "ExternalProvisioner", "Registrations"]
