"""Why a runtime could not start, load a model or become healthy.

All of them are ``ProviderError``s: the agent stores the message as the deployment's status.
``retryable`` tells the agent whether trying the same step again can help.
"""

from __future__ import annotations

from flowllama.errors import ProviderError, ProvisioningFailed


class RuntimeNotInstalled(ProviderError):
    """The runtime's program or package is missing here; the message says how to install it."""

    retryable = False


class ModelNotFound(ProviderError):
    """The model does not exist (no such GGUF file, or no such tag in the registry)."""

    retryable = False


class ModelPullFailed(ProviderError):
    """Downloading or loading the model failed part way (network, disk, registry error)."""


class RuntimeExited(ProvisioningFailed):
    """The runtime's process ended before it became healthy."""


class RuntimeStartTimeout(ProvisioningFailed):
    """The runtime did not answer its health check in time."""
