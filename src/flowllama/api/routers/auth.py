"""``/api/auth``: register, login, refresh, logout, me, password reset."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from flowllama.api.deps import CurrentSession, CurrentUser, DbSession, PlatformDep, client_address
from flowllama.domain.accounts import (
    LoginRequest,
    RefreshRequest,
    RegisteredOut,
    RegisterRequest,
    ResetConfirm,
    ResetRequest,
    TokenPairOut,
    UserOut,
)
from flowllama.services import account_throttle, auth, password_reset, users

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/register", status_code=status.HTTP_201_CREATED)
def register(body: RegisterRequest, request: Request, platform: PlatformDep, db: DbSession
             ) -> RegisteredOut:
    account_throttle.register(db, platform.auth.limits, client_address(request))
    user = users.create_user(db, body.email, body.password)
    return RegisteredOut(id=user.id, email=user.email)


@router.post("/login")
def login(body: LoginRequest, request: Request, platform: PlatformDep, db: DbSession
          ) -> TokenPairOut:
    pair = auth.login(db, platform.auth, body.email, body.password, client_address(request))
    return TokenPairOut(**pair.__dict__)


@router.post("/refresh")
def refresh(body: RefreshRequest, request: Request, platform: PlatformDep, db: DbSession
            ) -> TokenPairOut:
    account_throttle.refresh(db, platform.auth.limits, client_address(request))
    pair = auth.refresh(db, platform.auth, body.refresh_token)
    return TokenPairOut(**pair.__dict__)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(current: CurrentSession, db: DbSession) -> Response:
    auth.revoke_family(db, current.session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me")
def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.post("/password-reset/request", status_code=status.HTTP_202_ACCEPTED)
def request_password_reset(body: ResetRequest, request: Request, platform: PlatformDep,
                           db: DbSession) -> dict[str, str]:
    email = users.normalise_email(body.email)
    account_throttle.reset_request(db, platform.auth.limits, email, client_address(request))
    password_reset.request_reset(db, email)
    return {"status": "accepted",
            "message": "If an account exists for this email, a reset link has been sent"}


@router.post("/password-reset/confirm", status_code=status.HTTP_204_NO_CONTENT)
def confirm_password_reset(body: ResetConfirm, db: DbSession) -> Response:
    password_reset.confirm_reset(db, body.token, body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
