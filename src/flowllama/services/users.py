"""User accounts: creation and lookup."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flowllama.db.tables import User
from flowllama.errors import Conflict, NotFound
from flowllama.security.passwords import check_policy, hash_password


def normalise_email(email: str) -> str:
    return email.strip().lower()


def get_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def get_user(session: Session, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("User not found")
    return user


def create_user(
    session: Session, email: str, password: str, *, is_admin: bool = False, tier: str = "free"
) -> User:
    """Create an account; 409 if the email is taken, 422 if the password is weak."""
    email = normalise_email(email)
    check_policy(password, email=email)
    if get_by_email(session, email) is not None:
        raise Conflict("An account with this email already exists", field="email",
                       code="email_taken")
    user = User(email=email, password_hash=hash_password(password), is_admin=is_admin, tier=tier)
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent registration won the race
        raise Conflict("An account with this email already exists", field="email",
                       code="email_taken") from exc
    return user


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0
