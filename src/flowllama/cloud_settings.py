"""The settings sections for clouds: which clouds deployments may use, the Ollama release their
servers install, and where the Terraform provisioner keeps state. Part of the one settings
tree (:class:`flowllama.settings.Settings`, which re-exports these); credentials never live
here, only in the cloud SDKs' own chains.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

# Keys that hold a secret in Terraform's provider and backend settings (access_key, secret_key,
# token, session_token, access_token, credentials, password, client_secret, private_key, the
# HTTP backend's client_private_key_pem, and the encryption keys themselves: the S3 backend's
# sse_customer_key and the GCS backend's encryption_key). Only the last words count, so paths
# such as shared_credentials_files stay allowed.
_CREDENTIAL_KEY = re.compile(
    r"(^|_)(access_key|secret_key|secret|token|credentials|password|private_key|"
    r"private_key_pem|customer_key|encryption_key)$")
# Keys ending like a secret that hold only a name: the GCS backend's kms_encryption_key is a
# Cloud KMS key's resource name (the S3 backend's kms_key_id, an ARN, does not match anyway).
_NAMES_NOT_SECRETS = frozenset({"kms_encryption_key"})


def _credential_keys(value: Any, path: str = "") -> Iterator[str]:
    """The dotted paths of credential-looking keys anywhere in nested settings."""
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            name = str(key).lower()
            if _CREDENTIAL_KEY.search(name) and name not in _NAMES_NOT_SECRETS:
                yield here
            yield from _credential_keys(item, here)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _credential_keys(item, f"{path}[{index}]")


class TerraformSettings(BaseModel):
    """Where the Terraform provisioner keeps each deployment's state (one key per deployment).

    ``backend_config`` holds the backend's settings (e.g. ``{"bucket": "...", "region": "..."}``
    for S3); credentials belong in the environment, not here.
    """

    backend: Literal["local", "s3", "gcs", "http"] = "local"
    backend_config: dict[str, str | int | bool] = Field(default_factory=dict)
    state_prefix: str = Field("flowllama", pattern=r"^[A-Za-z0-9_./-]{1,100}$")
    # Extra arguments for the provider blocks FlowLlama renders, by provider name, e.g.
    # {"aws": {"assume_role": [{"role_arn": "..."}]}} or custom endpoints; never credentials.
    provider_settings: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("backend_config", "provider_settings")
    @classmethod
    def _no_credentials(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Both end up in files Terraform writes and copies (main.tf.json, backend.json,
        # .terraform/): a secret here would leak to disk. Credentials come from the SDK chains.
        found = sorted(_credential_keys(value))
        if found:
            raise ValueError(
                f"credential settings are not accepted here: {', '.join(found)}; give "
                "credentials through the cloud SDK's own chain (AWS_* / AWS_PROFILE / instance "
                "role, GOOGLE_APPLICATION_CREDENTIALS / workload identity, TF_HTTP_PASSWORD)")
        return value


class CloudSettings(BaseModel):
    """One cloud FlowLlama may deploy to. Credentials come from the cloud SDK's own chain
    (environment, profile, instance role, workload identity), never from here.

    ``regions`` are those with a foundation (``flowllama cloud init``); offers elsewhere are
    not made. Empty means any region the catalog prices. ``project`` is the GCP project.
    """

    enabled: bool = False
    regions: list[str] = Field(default_factory=list)
    environment: str = Field("prod", pattern=r"^[a-z][a-z0-9-]{0,15}$")
    project: str | None = Field(None, pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
    image_id: str | None = Field(None, max_length=200)


class CloudsSettings(BaseModel):
    """Which clouds deployments may use (``FLOWLLAMA_CLOUDS__AWS__ENABLED=true``), and the
    Ollama release their servers install (version and the archive's SHA-256, checked on boot).
    """

    aws: CloudSettings = Field(default_factory=CloudSettings)
    gcp: CloudSettings = Field(default_factory=CloudSettings)
    ollama_version: str = Field("0.12.6", pattern=r"^[0-9]+\.[0-9]+\.[0-9]+(-rc[0-9]+)?$")
    ollama_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _checksum_for_enabled_clouds(self) -> CloudsSettings:
        # A cloud server installs Ollama only after checking the archive against this value;
        # without it every cloud deployment would fail at boot, so refuse to start instead.
        if self.configured() and self.ollama_sha256 is None:
            raise ValueError(
                "FLOWLLAMA_CLOUDS__OLLAMA_SHA256 must be set when a cloud is enabled: the SHA-256 "
                f"of ollama-linux-amd64.tgz {self.ollama_version} (from the release's "
                "sha256sum.txt), which cloud servers check before installing it")
        return self

    def configured(self) -> dict[str, CloudSettings]:
        """The enabled clouds by name."""
        return {name: cloud for name, cloud in (("aws", self.aws), ("gcp", self.gcp))
                if cloud.enabled}
