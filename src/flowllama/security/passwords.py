"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from flowllama.errors import InvalidInput

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 would accept more, but a megabyte password is a DoS, not a password.

# The most common passwords of 10+ characters in public breach lists (facts, not prose).
COMMON_PASSWORDS = frozenset(
    {
        "1234567890", "12345678910", "0123456789", "1234567891", "1111111111", "0000000000",
        "qwertyuiop", "password123", "password12", "password1234", "passw0rd123",
        "iloveyou12", "qwerty1234", "qwerty123456", "1q2w3e4r5t", "1qaz2wsx3edc",
        "abcdefghij", "abc1234567", "welcome123", "letmein123", "administrator",
        "football123", "baseball123", "sunshine123", "princess123", "starwars123",
        "monkey1234", "dragon1234", "changeme123", "superman123", "trustno1234",
        "aaaaaaaaaa", "asdfghjkl1", "zxcvbnm123", "qazwsxedcrfv", "flowllama123",
        "password1!", "p@ssw0rd123", "qwertyuiop1", "9876543210",
    }
)

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_DUMMY_HASH = _hasher.hash("flowllama-timing-equaliser")


def check_policy(password: str, *, email: str | None = None, field: str = "password") -> None:
    """Raise ``InvalidInput`` (422, with ``field``) when ``password`` is too weak."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"Password must be at least {MIN_LENGTH} characters long", field=field)
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"Password must be at most {MAX_LENGTH} characters long", field=field)
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS:
        raise InvalidInput("Password is too common; choose a less guessable one", field=field)
    if len(set(password)) < 4:
        raise InvalidInput("Password needs more distinct characters", field=field)
    if email and lowered == email.lower().split("@", 1)[0]:
        raise InvalidInput("Password must not be your email name", field=field)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; with no hash, spend the same time and return False."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
