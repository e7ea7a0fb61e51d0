"""One error hierarchy, split by who reads it.

``ClientError`` is the caller's fault: the control plane renders it as
``{"error": {"code", "message", "field"?}}`` with its HTTP status; the gateway renders the
OpenAI envelope. ``ProviderError`` is a cloud's or a runtime's refusal: the agent handles it and
stores it as the deployment's status message. ``ConfigError`` stops a process at start-up.
"""

from __future__ import annotations


class FlowLlamaError(Exception):
    """Base of every error FlowLlama raises on purpose."""


class ConfigError(FlowLlamaError):
    """The configuration cannot be used (e.g. a placeholder JWT secret in production)."""


class ClientError(FlowLlamaError):
    """A request the caller can fix; never logged as a server fault."""

    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.headers = headers or {}
        if code is not None:
            self.code = code

    def body(self) -> dict[str, dict[str, str]]:
        """The JSON body of the control plane's error response."""
        error = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


class InvalidInput(ClientError):
    status_code = 422
    code = "invalid_input"


class Unauthorized(ClientError):
    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str = "Authentication required", **kwargs: object) -> None:
        headers = {"WWW-Authenticate": "Bearer"}
        super().__init__(message, headers=headers, **kwargs)  # type: ignore[arg-type]


class Forbidden(ClientError):
    status_code = 403
    code = "forbidden"


class NotFound(ClientError):
    status_code = 404
    code = "not_found"


class Conflict(ClientError):
    status_code = 409
    code = "conflict"


class QuotaExceeded(ClientError):
    """The account holds as many of a resource as its tier allows; ``field`` names it."""

    status_code = 403
    code = "quota_exceeded"


class PayloadTooLarge(ClientError):
    status_code = 413
    code = "payload_too_large"


class RateLimited(ClientError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        retry_after = max(1, int(retry_after))
        super().__init__(message, code=code, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class ServiceUnavailable(ClientError):
    """Nothing can serve the request right now; retrying later may work."""

    status_code = 503
    code = "service_unavailable"


class ProviderError(FlowLlamaError):
    """A provisioner or runtime could not do what was asked."""

    retryable = True


class NoCapacity(ProviderError):
    """The cloud/region/zone has no capacity or quota for this offer: try the next offer."""


class NoFoundation(NoCapacity):
    """The offer's region has no foundation (its network, identities and model bucket were
    never applied there with ``flowllama cloud init``), so no offer in that region can be
    created now: like a capacity refusal, the next offer is tried. The message names the
    command to run."""


class ProvisioningFailed(ProviderError):
    """Creating or starting the resource failed."""


class NotYetTerminated(ProviderError):
    """Destroy was requested but the resource still exists; check again later."""


class StepAbandoned(FlowLlamaError):
    """The step that asked for this work no longer owns its deployment (the agent's lease on
    it was lost): stop at once and touch nothing more, not even to clean up, because another
    agent may be acting on the same servers now.

    Not a :class:`ProviderError` on purpose: a provider failure is handled by cleaning up
    (stopping a half-prepared runtime, abandoning a replacement, rolling back a stack), and a
    lost step must pass through every such handler untouched. The agent's worker catches it
    before its generic handlers and retries the job without recording a failure."""
