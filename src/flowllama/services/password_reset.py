"""Password reset by emailed, single-use, expiring token (stored hashed).

Requesting a reset answers the same whether or not the email has an account, so it cannot be
used to find out who is registered. The request only queues it (one insert, the same for
every email); the ``api`` role's accounts worker (``services/accounts_worker.py``) looks the
email up, stores a token and queues the mail (``services/mail_outbox.py``), so neither whether
the email has an account nor what the mail server does shows in the answer or its timing.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from flowllama.db.session import Database
from flowllama.db.tables import PasswordResetToken, ResetRequest, User
from flowllama.db.types import utcnow
from flowllama.errors import InvalidInput
from flowllama.security.passwords import check_policy, hash_password
from flowllama.security.tokens import hash_secret, new_secret
from flowllama.services import mail_outbox
from flowllama.services.auth import revoke_all
from flowllama.services.users import get_by_email, normalise_email

INVALID_TOKEN = "This reset link is invalid or has expired; request a new one"  # noqa: S105


def request_reset(session: Session, email: str) -> None:
    """Queue a reset request for ``email``: one insert, whether or not it has an account."""
    session.add(ResetRequest(email=normalise_email(email)))


def process_requests(db: Database, ttl_s: int, public_url: str, limit: int = 20) -> int:
    """Handle up to ``limit`` queued requests (blocking): for an email with an account, store
    a token and queue the mail; for any other, nothing. Each request is claimed by a
    conditional update, so two workers never handle one. Returns how many were handled."""
    with db.session() as session:
        pending = session.scalars(
            select(ResetRequest.id).where(ResetRequest.processed_at.is_(None))
            .order_by(ResetRequest.created_at).limit(limit)
        ).all()
    for request_id in pending:
        with db.session() as session:
            claimed = session.execute(
                update(ResetRequest)
                .where(ResetRequest.id == request_id, ResetRequest.processed_at.is_(None))
                .values(processed_at=utcnow())
                .returning(ResetRequest.email)
            ).scalar_one_or_none()
            if claimed is not None:
                _mail_link(session, claimed, ttl_s, public_url)
    return len(pending)


def _mail_link(session: Session, email: str, ttl_s: int, public_url: str) -> None:
    user = get_by_email(session, email)
    if user is None:
        return
    token = new_secret()
    session.add(
        PasswordResetToken(
            user_id=user.id, token_hash=hash_secret(token),
            expires_at=utcnow() + timedelta(seconds=ttl_s),
        )
    )
    minutes = ttl_s // 60
    link = f"{public_url}/reset.html?token={quote(token)}"
    mail_outbox.enqueue(
        session, user.email,
        "Reset your FlowLlama password",
        f"Someone asked to reset the password of your FlowLlama account.\n\n"
        f"To choose a new password, open this link within {minutes} minutes:\n{link}\n\n"
        "If it was not you, ignore this message; your password stays the same.\n",
    )


def confirm_reset(session: Session, token: str, new_password: str) -> None:
    """Set a new password with a valid token, use the token up and end all sessions."""
    now = utcnow()
    row = session.scalar(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == hash_secret(token))
    )
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise InvalidInput(INVALID_TOKEN, field="token", code="invalid_token")
    user = session.get(User, row.user_id)
    if user is None:
        raise InvalidInput(INVALID_TOKEN, field="token", code="invalid_token")
    check_policy(new_password, email=user.email, field="new_password")
    claimed = session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.id == row.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidInput(INVALID_TOKEN, field="token", code="invalid_token")
    # Other outstanding links die with this reset.
    session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )
    user.password_hash = hash_password(new_password)
    user.password_changed_at = now
    revoke_all(session, user.id)
