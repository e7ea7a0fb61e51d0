"""Where Terraform keeps each deployment's state: local (default), S3, GCS or HTTP.

The root module only declares an empty ``backend "<type>" {}`` block; the settings are written
to ``backend.json`` in the workspace and passed as ``-backend-config=backend.json`` (a partial
configuration), so nothing is templated and no setting appears on a command line. Every
deployment gets its own state key under :attr:`BackendConfig.state_prefix`.

Credentials belong in the environment (``AWS_*``, ``GOOGLE_APPLICATION_CREDENTIALS``) rather
than in ``settings``: Terraform copies backend settings into ``.terraform/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

BackendValue = str | int | bool

BACKEND_TYPES = frozenset({"local", "s3", "gcs", "http"})
# Either of these settings says how S3 state is locked; without one, S3-native locking is added.
LOCK_SETTINGS = frozenset({"use_lockfile", "dynamodb_table"})


@dataclass(frozen=True)
class BackendConfig:
    """A state backend type and its settings, shared by all deployments of a provisioner."""

    type: str = "local"
    settings: Mapping[str, BackendValue] = field(default_factory=dict)
    state_prefix: str = "flowllama"

    def __post_init__(self) -> None:
        if self.type not in BACKEND_TYPES:
            raise ValueError(f"backend type {self.type!r} is not one of {sorted(BACKEND_TYPES)}")
        if self.type == "s3" and not LOCK_SETTINGS & self.settings.keys():
            # S3 is the one backend that does not lock unless told to; two agents (or an agent
            # and an operator) applying one deployment at once would corrupt its state. Locking
            # is the default however the config was built (settings, code); an explicit
            # ``use_lockfile`` (even false) or a DynamoDB table is the operator's choice.
            object.__setattr__(self, "settings", {**self.settings, "use_lockfile": True})

    @classmethod
    def s3(cls, bucket: str, region: str, **settings: BackendValue) -> BackendConfig:
        """S3 state with S3-native locking (``use_lockfile``, Terraform 1.10+) by default."""
        return cls("s3", {"bucket": bucket, "region": region, **settings})

    @classmethod
    def gcs(cls, bucket: str, **settings: BackendValue) -> BackendConfig:
        """GCS state (GCS locks natively)."""
        return cls("gcs", {"bucket": bucket, **settings})

    @classmethod
    def http(cls, base_url: str, **settings: BackendValue) -> BackendConfig:
        """HTTP state (GitLab, Terraform state servers): ``<base_url>/<name>`` and ``/lock``."""
        return cls("http", {"address": base_url.rstrip("/"), **settings})

    @property
    def is_remote(self) -> bool:
        """Whether state outlives the local workspace directory."""
        return self.type != "local"

    def render(self, name: str) -> dict[str, BackendValue]:
        """The ``-backend-config`` settings for the deployment whose resources are ``name``."""
        settings = dict(self.settings)
        if self.type == "s3":
            settings["key"] = f"{self.state_prefix}/{name}/terraform.tfstate"
        elif self.type == "gcs":
            settings["prefix"] = f"{self.state_prefix}/{name}"
        elif self.type == "http":
            address = f"{settings['address']}/{self.state_prefix}/{name}"
            settings.update(address=address, lock_address=f"{address}/lock",
                            unlock_address=f"{address}/lock")
        return settings
