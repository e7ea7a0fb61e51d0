"""Throttles on the other unauthenticated account endpoints: sign-up, password-reset request
and token refresh, per client address (an IPv6 client by its /64, ``throttle.address_bucket``)
and per email for reset requests.

Each call counts the request atomically (``services/throttle.py``) and commits the count at
once, so it sticks even when the request then fails (a duplicate email, an unknown token).
Over the limit the caller gets 429 with ``Retry-After``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from flowllama.services import throttle
from flowllama.settings import AuthSettings, RequestLimit


@dataclass(frozen=True)
class AccountLimits:
    register: throttle.Limit
    reset: throttle.Limit
    reset_per_email: throttle.Limit
    refresh: throttle.Limit

    @classmethod
    def from_settings(cls, auth: AuthSettings) -> AccountLimits:
        def limit(value: RequestLimit) -> throttle.Limit:
            return throttle.Limit(value.max, value.window_s)

        return cls(register=limit(auth.register_limit), reset=limit(auth.reset_limit),
                   reset_per_email=limit(auth.reset_per_email),
                   refresh=limit(auth.refresh_limit))

    @property
    def longest_window_s(self) -> int:
        return max(lim.window_s for lim in (self.register, self.reset, self.reset_per_email,
                                            self.refresh))


def _count(session: Session, subject: str, limit: throttle.Limit, message: str) -> None:
    try:
        throttle.enforce(session, subject, limit, message)
    finally:
        session.commit()


def register(session: Session, limits: AccountLimits, address: str | None) -> None:
    _count(session, f"register:{throttle.address_bucket(address)}", limits.register,
           "Too many sign-ups from this address; try again later")


def reset_request(session: Session, limits: AccountLimits, email: str, address: str | None
                  ) -> None:
    message = "Too many password-reset requests; try again later"
    _count(session, f"reset:{throttle.address_bucket(address)}", limits.reset, message)
    _count(session, f"reset-email:{email}", limits.reset_per_email, message)


def refresh(session: Session, limits: AccountLimits, address: str | None) -> None:
    _count(session, f"refresh:{throttle.address_bucket(address)}", limits.refresh,
           "Too many token refreshes from this address; try again later")
