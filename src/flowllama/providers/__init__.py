"""Provisioners: the only code that knows clouds. See :mod:`flowllama.providers.base`."""

from flowllama.providers.base import (
    Capabilities,
    Capability,
    DeploymentSpec,
    Handle,
    Placement,
    Provisioner,
    ResourceState,
    Unsupported,
)
from flowllama.providers.naming import resource_labels, resource_name, resource_tags
from flowllama.providers.registry import (
    ProvisionerRegistry,
    default_registry,
    get_provisioner,
    register_provisioner,
)

__all__ = [
    "Capabilities",
    "Capability",
    "DeploymentSpec",
    "Handle",
    "Placement",
    "Provisioner",
    "ProvisionerRegistry",
    "ResourceState",
    "Unsupported",
    "default_registry",
    "get_provisioner",
    "register_provisioner",
    "resource_labels",
    "resource_name",
    "resource_tags",
]
