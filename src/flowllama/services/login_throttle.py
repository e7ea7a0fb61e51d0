"""Throttle repeated failed logins, per email and per client address, across processes.

Failures are rows in ``login_failures`` so every API process sees the same count. Past the
limit inside the window the caller gets 429 with ``Retry-After`` = seconds until the oldest
counted failure leaves the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from flowllama.db.tables import LoginFailure
from flowllama.db.types import utcnow
from flowllama.errors import RateLimited

# A shared address (NAT, office) legitimately carries several users' mistakes.
ADDRESS_FACTOR = 4


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int
    window_s: int


def _subjects(email: str, address: str | None) -> list[tuple[str, int]]:
    subjects = [(f"email:{email}", 1)]
    if address:
        subjects.append((f"addr:{address}", ADDRESS_FACTOR))
    return subjects


def check(session: Session, policy: ThrottlePolicy, email: str, address: str | None) -> None:
    """Raise ``RateLimited`` when ``email`` or ``address`` has failed too often recently."""
    now = utcnow()
    since = now - timedelta(seconds=policy.window_s)
    for subject, factor in _subjects(email, address):
        count, oldest = session.execute(
            select(func.count(), func.min(LoginFailure.attempted_at)).where(
                LoginFailure.subject == subject, LoginFailure.attempted_at > since
            )
        ).one()
        if count >= policy.max_failures * factor and oldest is not None:
            wait = (oldest + timedelta(seconds=policy.window_s) - now).total_seconds()
            raise RateLimited(
                "Too many failed logins; try again later", retry_after=int(wait) + 1,
                code="too_many_attempts",
            )


def record_failure(session: Session, email: str, address: str | None) -> None:
    for subject, _ in _subjects(email, address):
        session.add(LoginFailure(subject=subject))


def clear(session: Session, policy: ThrottlePolicy, email: str) -> None:
    """Forget the email's failures after a success, and prune rows older than the window."""
    cutoff = utcnow() - timedelta(seconds=policy.window_s)
    session.execute(delete(LoginFailure).where(LoginFailure.subject == f"email:{email}"))
    session.execute(delete(LoginFailure).where(LoginFailure.attempted_at < cutoff))
