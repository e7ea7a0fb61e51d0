"""Opaque secrets (refresh, reset, API keys) and signed access tokens (JWT, HS256).

Opaque secrets are random URL-safe strings; only their SHA-256 is stored, which is enough
because they carry 256 bits of entropy (no need for a slow hash).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from flowllama.db.types import new_id, utcnow
from flowllama.errors import Unauthorized

ALGORITHM = "HS256"


def new_secret(prefix: str = "", nbytes: int = 32) -> str:
    """A fresh random secret, optionally prefixed (``fl-`` for API keys)."""
    return prefix + secrets.token_urlsafe(nbytes)


def hash_secret(secret: str) -> str:
    """The stored form of an opaque secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class TokenAudience:
    """Who signs access tokens (``iss``) and who they are for (``aud``): a token minted by
    another service sharing the secret, or for another audience, is refused."""

    issuer: str
    audience: str


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    session_id: str
    issued_at: datetime
    token_id: str


def encode_access_token(
    secret: str, scope: TokenAudience, user_id: str, session_id: str, *, ttl_s: int,
    now: datetime | None = None,
) -> str:
    """A short-lived JWT naming the user (``sub``) and the refresh-token family (``sid``)."""
    issued = now or utcnow()
    claims = {
        "iss": scope.issuer,
        "aud": scope.audience,
        "sub": user_id,
        "sid": session_id,
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(seconds=ttl_s)).timestamp()),
        "jti": new_id(),
        "typ": "access",
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_access_token(secret: str, scope: TokenAudience, token: str) -> AccessClaims:
    """Verify signature, algorithm (HS256 only: never ``none``), issuer, audience and expiry."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=scope.issuer, audience=scope.audience,
            options={"require": ["exp", "iat", "sub", "jti", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("Access token expired", code="token_expired") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("Invalid access token", code="invalid_token") from exc
    if claims.get("typ") != "access" or not isinstance(claims.get("sid"), str):
        raise Unauthorized("Invalid access token", code="invalid_token")
    return AccessClaims(
        user_id=str(claims["sub"]),
        session_id=claims["sid"],
        issued_at=datetime.fromtimestamp(int(claims["iat"]), tz=utcnow().tzinfo),
        token_id=str(claims["jti"]),
    )
