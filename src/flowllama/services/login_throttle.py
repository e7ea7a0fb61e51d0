"""Throttle failed logins per (email, client address) and per client address, atomically.

Each attempt is counted *before* the password is checked (``services/throttle.py``: one
atomic statement per counter, committed at once), so N parallel guesses cannot all slip past
the check; a correct password gives its count back. Counting per (email, address) means a
stranger's failures never lock the account's owner out from another address; the per-address
counter (four times larger: a shared NAT carries several people's mistakes) stops one client
from spraying guesses over many emails. An IPv6 client is counted by its /64, so rotating
addresses inside its own block does not reset its counts. Past either limit the caller gets 429 with
``Retry-After``, whatever the password.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from flowllama.services import throttle

# A shared address (NAT, office) legitimately carries several users' mistakes.
ADDRESS_FACTOR = 4
MESSAGE = "Too many failed logins; try again later"


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int
    window_s: int

    def pair_limit(self) -> throttle.Limit:
        return throttle.Limit(self.max_failures, self.window_s)

    def address_limit(self) -> throttle.Limit:
        return throttle.Limit(self.max_failures * ADDRESS_FACTOR, self.window_s)


def _subjects(email: str, address: str | None) -> tuple[str, str]:
    where = throttle.address_bucket(address)
    return f"login:{email}|{where}", f"login-addr:{where}"


def attempt(session: Session, policy: ThrottlePolicy, email: str, address: str | None) -> None:
    """Count a login attempt (committed); raise ``RateLimited`` when over either limit."""
    pair, per_address = _subjects(email, address)
    try:
        # Pair first: one email guessed from one address hits its own small limit.
        throttle.enforce(session, pair, policy.pair_limit(), MESSAGE, code="too_many_attempts")
        throttle.enforce(session, per_address, policy.address_limit(), MESSAGE,
                         code="too_many_attempts")
    finally:
        # Commit now, pass or fail: the count must stick, and the row locks must not be held
        # while the (slow) password hash is checked.
        session.commit()


def succeeded(session: Session, email: str, address: str | None) -> None:
    """A correct password: forget this pair's failures and give the address its count back."""
    pair, per_address = _subjects(email, address)
    throttle.forget(session, pair)
    throttle.give_back(session, per_address)
