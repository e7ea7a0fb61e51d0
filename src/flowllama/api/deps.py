"""Request dependencies as named types, so a handler's signature says what it needs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from flowllama.db.tables import User
from flowllama.errors import Forbidden, Unauthorized
from flowllama.platform import Platform
from flowllama.services import auth
from flowllama.services.deployments import Viewer


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def get_db(platform: PlatformDep) -> Iterator[Session]:
    """A session per request: committed when the handler returns, rolled back on error."""
    with platform.db.session() as session:
        yield session


DbSession = Annotated[Session, Depends(get_db, scope="function")]


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Missing bearer token", code="missing_token")
    return token.strip()


@dataclass(frozen=True)
class AuthenticatedSession:
    user: User
    session_id: str


def get_auth_session(
    request: Request, platform: PlatformDep, db: DbSession
) -> AuthenticatedSession:
    user, session_id = auth.authenticate(db, platform.auth, bearer_token(request))
    # End the authentication's transaction: a handler that works through other sessions (the
    # job queue) must not wait on this one's lock (SQLite has one writer at a time).
    db.commit()
    request.scope.setdefault("state", {})["user_id"] = user.id
    structlog.contextvars.bind_contextvars(user_id=user.id)
    return AuthenticatedSession(user=user, session_id=session_id)


CurrentSession = Annotated[AuthenticatedSession, Depends(get_auth_session)]


def get_current_user(current: CurrentSession) -> User:
    return current.user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden("Administrator access required")
    return user


AdminUser = Annotated[User, Depends(get_admin)]


def get_deployment_viewer(user: CurrentUser, platform: PlatformDep) -> Viewer:
    """How the caller sees deployments: the gateway as endpoint; runtimes for operators."""
    return Viewer(platform.settings.effective_gateway_url, operator=bool(user.is_admin))


DeploymentViewer = Annotated[Viewer, Depends(get_deployment_viewer)]


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None
