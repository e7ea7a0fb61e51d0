"""Log in, rotate refresh tokens, log out, and resolve access tokens to users.

A login starts a session: a family of refresh tokens sharing ``family_id``. Each refresh uses
up the presented token and issues the next one in the family; presenting a used token again
means it was stolen or replayed, so the whole family is revoked. Access tokens carry the family
id (``sid``), so revoking the family (logout, reuse, password reset) also ends them at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from flowllama.db.tables import RefreshToken, User
from flowllama.db.types import new_id, utcnow
from flowllama.errors import Forbidden, Unauthorized
from flowllama.security.passwords import verify_password
from flowllama.security.tokens import (
    TokenAudience,
    decode_access_token,
    encode_access_token,
    hash_secret,
    new_secret,
)
from flowllama.services import login_throttle
from flowllama.services.account_throttle import AccountLimits
from flowllama.services.users import get_by_email, normalise_email
from flowllama.settings import Settings

BAD_CREDENTIALS = "Invalid email or password"
ACCOUNT_DISABLED = "This account is disabled; ask an administrator"


@dataclass(frozen=True)
class AuthConfig:
    """What the auth service needs from the settings, resolved once per process."""

    jwt_secret: str
    token_scope: TokenAudience
    access_ttl_s: int
    refresh_ttl_s: int
    reset_ttl_s: int
    throttle: login_throttle.ThrottlePolicy
    limits: AccountLimits

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthConfig:
        auth = settings.auth
        return cls(
            jwt_secret=settings.jwt_secret(),
            token_scope=TokenAudience(auth.jwt_issuer, auth.jwt_audience),
            access_ttl_s=auth.access_token_ttl_s,
            refresh_ttl_s=auth.refresh_token_ttl_s,
            reset_ttl_s=auth.reset_token_ttl_s,
            throttle=login_throttle.ThrottlePolicy(auth.login_max_failures, auth.login_window_s),
            limits=AccountLimits.from_settings(auth),
        )

    @property
    def longest_window_s(self) -> int:
        """The longest throttle window: counters older than this count for nothing."""
        return max(self.throttle.window_s, self.limits.longest_window_s)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret


def _issue(session: Session, cfg: AuthConfig, user: User, family_id: str) -> TokenPair:
    refresh = new_secret()
    session.add(
        RefreshToken(
            user_id=user.id, family_id=family_id, token_hash=hash_secret(refresh),
            expires_at=utcnow() + timedelta(seconds=cfg.refresh_ttl_s),
        )
    )
    access = encode_access_token(cfg.jwt_secret, cfg.token_scope, user.id, family_id,
                                 ttl_s=cfg.access_ttl_s)
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=cfg.access_ttl_s)


def login(
    session: Session, cfg: AuthConfig, email: str, password: str, address: str | None
) -> TokenPair:
    """Check credentials (same answer for unknown email and wrong password) and start a session."""
    email = normalise_email(email)
    login_throttle.attempt(session, cfg.throttle, email, address)  # counted (and committed)
    user = get_by_email(session, email)
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise Unauthorized(BAD_CREDENTIALS, code="invalid_credentials")
    if user.disabled_at is not None:  # told only to whoever knows the password
        raise Forbidden(ACCOUNT_DISABLED, code="account_disabled")
    login_throttle.succeeded(session, email, address)
    return _issue(session, cfg, user, family_id=new_id())


def refresh(session: Session, cfg: AuthConfig, refresh_token: str) -> TokenPair:
    """Rotate ``refresh_token``; a replayed (already used) token revokes its whole family."""
    now = utcnow()
    row = session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == hash_secret(refresh_token))
    )
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthorized("Invalid refresh token", code="invalid_token")
    # Conditional update: of two concurrent refreshes with one token, exactly one wins.
    used = session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        revoke_family(session, row.family_id)
        session.commit()  # the revocation must stick although the request fails
        raise Unauthorized("Refresh token reuse detected; session revoked", code="token_reused")
    user = session.get(User, row.user_id)
    if user is None or user.disabled_at is not None:
        raise Unauthorized("Invalid refresh token", code="invalid_token")
    return _issue(session, cfg, user, family_id=row.family_id)


def revoke_family(session: Session, family_id: str) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_all(session: Session, user_id: str) -> None:
    """End every session of a user (password reset)."""
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def _session_revoked(session: Session, family_id: str) -> bool:
    revoked = session.scalar(
        select(RefreshToken.id)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_not(None))
        .limit(1)
    )
    return revoked is not None


def authenticate(session: Session, cfg: AuthConfig, access_token: str) -> tuple[User, str]:
    """The user and session id behind a valid, unrevoked access token."""
    claims = decode_access_token(cfg.jwt_secret, cfg.token_scope, access_token)
    user = session.get(User, claims.user_id)
    # iat has 1 s resolution: compare at that resolution so a fresh login after reset works.
    if (
        user is None
        or user.disabled_at is not None
        or claims.issued_at < user.password_changed_at.replace(microsecond=0)
        or _session_revoked(session, claims.session_id)
    ):
        raise Unauthorized("Session is no longer valid", code="invalid_token")
    return user, claims.session_id
