"""External servers (``cloud: external``): inference servers FlowLlama adopts but never runs.

An administrator registers a server that already exists (an Ollama root URL or an
OpenAI-compatible base URL) as a deployment of some owner. This module holds what every role
agrees on: the request body, and where each kind of server answers (:func:`endpoints_of`), so
the agent, the monitor and the gateway read one definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import EmailStr, Field

from flowllama.domain.accounts import Strict
from flowllama.domain.deployments import NAME_PATTERN, DeploymentOut

EXTERNAL_CLOUD = "external"
ExternalApi = Literal["ollama", "openai"]
EXTERNAL_APIS: tuple[ExternalApi, ...] = ("ollama", "openai")
# What the gateway bounds ``max_tokens``/``num_ctx`` by when the admin does not say.
DEFAULT_CONTEXT_SIZE = 8192


class ExternalDeploymentRegister(Strict):
    """An administrator's registration of an existing server (``POST
    /api/admin/external-deployments``). Registering the same owner and name again updates it."""

    name: str = Field(pattern=NAME_PATTERN, description="The deployment's name for its owner "
                      "(1 to 63 characters of a-z, 0-9 and '-')")
    owner_email: EmailStr = Field(description="The account that owns the deployment")
    base_url: str = Field(min_length=1, max_length=400, description=(
        "For `api: ollama` the server's root (`http://ollama:11434`); for `api: openai` its "
        "OpenAI-compatible base, where `/models` and `/chat/completions` live "
        "(`http://vllm:8000/v1`)"))
    api: ExternalApi = Field(description="The API the server speaks")
    secret: str | None = Field(None, min_length=1, max_length=4096, description=(
        "Sent as `Authorization: Bearer <secret>` on every request to the server; stored "
        "encrypted, never shown. Omitted on an update: the stored secret is kept"))
    clear_secret: bool = Field(False, description="Forget the stored secret (the server needs "
                               "none)")
    price_per_hour: float | None = Field(None, ge=0, le=10_000,
                                         description="What the server costs, in $/h")
    model: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$",
                              description="The model name the server knows (sent as `model`); "
                              "default: the deployment's name")
    context_size: int = Field(DEFAULT_CONTEXT_SIZE, ge=256, le=1_048_576)


class ExternalDeploymentOut(DeploymentOut):
    """The registered deployment as its owner sees it, plus what the registration did."""

    created: bool = Field(description="True when this call created the deployment")
    api: ExternalApi
    has_secret: bool = Field(description="Whether a secret is stored (it is never shown)")


@dataclass(frozen=True, slots=True)
class ExternalEndpoints:
    """Where one external server answers.

    ``openai_base`` is what the gateway sends ``/chat/completions`` (and the rest of ``/v1``)
    under; ``native_base`` is Ollama's root for ``/ollama`` passthrough (None: the server has no
    Ollama API); ``server_url`` + ``health_path`` is the monitor's health check and
    ``server_url`` + ``chat_path`` its deep probe.
    """

    openai_base: str
    native_base: str | None
    server_url: str
    health_path: str
    chat_path: str


@dataclass(frozen=True, slots=True)
class ExternalTarget:
    """One registered server as the provisioner sees it; ``headers`` carry its secret."""

    api: str
    base_url: str
    headers: dict[str, str]

    def __repr__(self) -> str:  # never print the secret
        return f"ExternalTarget(api={self.api!r}, base_url={self.base_url!r}, headers=***)"


def handle_data(api: str, base_url: str) -> dict[str, str]:
    """What an external instance's handle records: where and what the server is, no secret.
    ``runtime`` tells the gateway whether an Ollama API (``/ollama`` passthrough) is there."""
    return {"api": api, "base_url": base_url, "runtime": api}


def endpoints_of(api: str, base_url: str) -> ExternalEndpoints:
    """Where a server of ``api`` registered at ``base_url`` answers."""
    base = base_url.rstrip("/")
    if api == "ollama":
        return ExternalEndpoints(openai_base=base + "/v1", native_base=base, server_url=base,
                                 health_path="/api/tags", chat_path="/v1/chat/completions")
    if api == "openai":
        return ExternalEndpoints(openai_base=base, native_base=None, server_url=base,
                                 health_path="/models", chat_path="/chat/completions")
    raise ValueError(f"unknown external server API {api!r}")
