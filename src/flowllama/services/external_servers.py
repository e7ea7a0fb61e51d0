"""External servers: register (idempotently) an existing inference server as a deployment.

Registration only writes records: a ``deployments`` row (``cloud: external``, desired
``running``) and its ``external_servers`` row (API, base URL, sealed secret). The agent then
moves it through the usual lifecycle with the ``external`` provisioner, which adopts the
server instead of creating one and never destroys it (``providers/external``). Registering the
same owner and name again updates the record in place (the CLI and the Helm hook run it on
every upgrade), including the live instance's endpoint, so traffic follows at once.

The base URL is an administrator's, not a tenant's: a private or loopback address is allowed
(an in-cluster Ollama service, a server on the same host). What is refused: anything but
http(s), credentials in the URL (use the secret), a query or fragment, a control character,
legacy numeric host forms, and the cloud metadata endpoints, which no inference server lives at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flowllama.db.session import Database
from flowllama.db.tables import Deployment, DeploymentEvent, ExternalServer, Instance
from flowllama.db.types import utcnow
from flowllama.domain.external import (
    EXTERNAL_CLOUD,
    ExternalDeploymentOut,
    ExternalDeploymentRegister,
    ExternalTarget,
    endpoints_of,
    handle_data,
)
from flowllama.domain.lifecycle import Desired, Status
from flowllama.errors import ConfigError, Conflict, InvalidInput
from flowllama.security.upstream_secrets import UpstreamSecrets
from flowllama.services import users
from flowllama.services.deployment_status import record_event
from flowllama.services.deployments import Viewer
from flowllama.webhooks.ssrf import METADATA_ADDRESSES, METADATA_HOSTS, UnsafeUrl, literal_address

EXTERNAL_REGION = "external"


@dataclass(frozen=True)
class Registered:
    """The deployment registered; ``new`` when this call created it, ``changed`` when it
    created or altered anything (an identical re-registration changes nothing)."""

    deployment: Deployment
    new: bool
    changed: bool


def check_base_url(url: str) -> str:
    """``url`` without a trailing slash, or ``InvalidInput`` on ``base_url`` (rules above)."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise InvalidInput(f"Not a valid URL: {exc}", field="base_url") from exc
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise InvalidInput("The URL contains a control character", field="base_url")
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidInput("The base URL must be http:// or https://", field="base_url")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("Credentials in the URL are not allowed; pass the secret instead",
                           field="base_url")
    if parts.query or parts.fragment:
        raise InvalidInput("The base URL takes no query or fragment", field="base_url")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise InvalidInput("The URL has no host", field="base_url")
    try:
        address = literal_address(host)
    except UnsafeUrl as exc:
        raise InvalidInput(exc.message, field="base_url") from exc
    if host in METADATA_HOSTS or address in METADATA_ADDRESSES:
        raise InvalidInput("That is a cloud metadata endpoint, not an inference server",
                           field="base_url")
    return url.strip().rstrip("/")


def estimate_of(body: ExternalDeploymentRegister) -> dict[str, Any]:
    """The deployment's stored estimate: its one placement (the server, at the given $/h), in
    the optimizer's ``candidates`` shape, so the agent places it like any other deployment."""
    placement = {"cloud": EXTERNAL_CLOUD, "region": EXTERNAL_REGION, "zone": None,
                 "instance_type": f"{body.api}-server", "spot": False,
                 "price_per_hour": body.price_per_hour, "gpu": None, "gpu_count": 0}
    return {"external": {"api": body.api}, "recommended": placement, "candidates": [placement]}


def register(session: Session, secrets: UpstreamSecrets, body: ExternalDeploymentRegister
             ) -> Registered:
    """Create or update ``body.owner_email``'s external deployment ``body.name``."""
    base_url = check_base_url(body.base_url)
    owner = users.get_by_email(session, str(body.owner_email))
    if owner is None:
        raise InvalidInput(f"No account has the email {body.owner_email}", field="owner_email",
                           code="unknown_owner")
    existing = session.scalar(select(Deployment).where(
        Deployment.user_id == owner.id, Deployment.name == body.name,
        Deployment.deleted_at.is_(None)))
    if existing is None:
        return _create(session, secrets, owner.id, body, base_url)
    if existing.cloud != EXTERNAL_CLOUD:
        raise Conflict(f"{body.owner_email} already has a deployment named {body.name!r} that "
                       "is not an external server", field="name", code="name_taken")
    if existing.desired_state == Desired.DELETED:
        raise Conflict(f"Deployment {body.name!r} is being deleted; register it again once it "
                       "is gone", field="name", code="deleting")
    return _update(session, secrets, existing, body, base_url)


def _create(session: Session, secrets: UpstreamSecrets, owner_id: str,
            body: ExternalDeploymentRegister, base_url: str) -> Registered:
    deployment = Deployment(
        user_id=owner_id, name=body.name, model=body.model or body.name, runtime=body.api,
        context_size=body.context_size, parallel=1, spot_tolerance="none", gpu="auto",
        cloud=EXTERNAL_CLOUD, desired_state=Desired.RUNNING, status=Status.PENDING,
        estimate=estimate_of(body))
    try:
        with session.begin_nested():
            session.add(deployment)
            session.flush()
    except IntegrityError as exc:  # a concurrent registration took the name first
        raise Conflict(f"Deployment {body.name!r} was just created by another request; run the "
                       "registration again to update it", field="name", code="name_taken"
                       ) from exc
    session.add(ExternalServer(deployment_id=deployment.id, api=body.api, base_url=base_url,
                               secret=secrets.seal(body.secret) if body.secret else None))
    session.add(DeploymentEvent(deployment_id=deployment.id, from_status=None,
                                to_status=Status.PENDING,
                                reason=f"external {body.api} server registered at {base_url}"))
    return Registered(deployment, new=True, changed=True)


def _update(session: Session, secrets: UpstreamSecrets, deployment: Deployment,
            body: ExternalDeploymentRegister, base_url: str) -> Registered:
    server = session.get(ExternalServer, deployment.id)
    if server is None:  # wiped by a delete that was then undone: start the record afresh
        server = ExternalServer(deployment_id=deployment.id, api=body.api, base_url=base_url)
        session.add(server)
    changes = _apply(deployment, server, body, base_url)
    if body.clear_secret and server.secret is not None:
        server.secret, changes = None, [*changes, "secret cleared"]
    elif body.secret and not _holds(secrets, server.secret, body.secret):
        server.secret, changes = secrets.seal(body.secret), [*changes, "secret"]
    if not changes:
        return Registered(deployment, new=False, changed=False)
    endpoints = endpoints_of(body.api, base_url)
    for instance in session.scalars(select(Instance).where(
            Instance.deployment_id == deployment.id, Instance.terminated_at.is_(None))):
        # An external instance is only a record of the server: follow the new registration.
        instance.endpoint_url = endpoints.openai_base
        instance.handle = {**instance.handle, "data": handle_data(body.api, base_url)}
        instance.price_per_hour = body.price_per_hour
        instance.instance_type = f"{body.api}-server"
    server.updated_at = deployment.updated_at = utcnow()
    record_event(session, deployment, "external server re-registered: " + ", ".join(changes),
                 {"changed": changes})
    return Registered(deployment, new=False, changed=True)


def _holds(secrets: UpstreamSecrets, stored: str | None, secret: str) -> bool:
    """Whether ``stored`` is ``secret`` sealed; one that no longer opens (the platform secret
    was rotated) is not, so registering again re-seals it: that is the documented recovery."""
    if stored is None:
        return False
    try:
        return secrets.open(stored) == secret
    except ConfigError:
        return False


def _apply(deployment: Deployment, server: ExternalServer, body: ExternalDeploymentRegister,
           base_url: str) -> list[str]:
    """Copy the registration onto the rows; the names of the fields that changed."""
    wanted: dict[str, tuple[object, Any, str]] = {
        "base_url": (server, base_url, "base_url"), "api": (server, body.api, "api"),
        "model": (deployment, body.model or body.name, "model"),
        "context_size": (deployment, body.context_size, "context_size"),
        "price_per_hour": (deployment, estimate_of(body), "estimate"),
    }
    changes = []
    for label, (row, value, attr) in wanted.items():
        if getattr(row, attr) != value:
            setattr(row, attr, value)
            changes.append(label)
    if deployment.runtime != body.api:
        deployment.runtime = body.api
    return changes


def view(session: Session, viewer: Viewer, registered: Registered) -> ExternalDeploymentOut:
    """The registration's answer: the deployment as its owner sees it, plus the API and
    whether a secret is stored (never the secret)."""
    server = session.get(ExternalServer, registered.deployment.id)
    out = viewer.view(session, registered.deployment)
    return ExternalDeploymentOut(**out.model_dump(), created=registered.new,
                                 api=server.api if server else "openai",
                                 has_secret=bool(server and server.secret))


class ExternalDirectory:
    """The provisioner's view of registrations: a short read (or write) per call, no
    transaction held across the network."""

    def __init__(self, db: Database, secrets: UpstreamSecrets) -> None:
        self.db = db
        self.secrets = secrets

    def lookup(self, deployment_id: str) -> ExternalTarget | None:
        with self.db.session() as session:
            server = session.get(ExternalServer, deployment_id)
            if server is None:
                return None
            return ExternalTarget(server.api, server.base_url,
                                  self.secrets.headers(server.secret))

    def forget(self, deployment_id: str) -> None:
        """Wipe the stored secret of a deleted deployment (its record stays for history)."""
        with self.db.session() as session:
            server = session.get(ExternalServer, deployment_id)
            if server is not None and server.secret is not None:
                server.secret = None
