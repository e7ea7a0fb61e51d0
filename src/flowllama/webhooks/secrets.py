"""Webhook signing secrets at rest: encrypted with Fernet (AES-128-CBC + HMAC-SHA256).

Deliveries are signed with the secret itself, so it cannot be stored hashed; it is stored
encrypted instead, as ``enc:v1:<fernet token>``, so a copy of the database (a backup, a
read replica) does not hand out every tenant's signing secrets. The key comes from
``FLOWLLAMA_WEBHOOKS__SECRET_KEY`` or, when that is unset, is derived (HKDF-SHA256) from the
JWT secret, which every replica already shares. A value without the prefix is a secret stored
before encryption existed: it is read as it is, and :func:`seal_plaintext` (run at start-up)
encrypts such rows in place.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select, update

from flowllama.db.session import Database
from flowllama.db.tables import Webhook
from flowllama.errors import ConfigError
from flowllama.settings import Settings

PREFIX = "enc:v1:"
_HKDF_INFO = b"flowllama webhook secrets v1"
_SEAL_BATCH = 500


class SecretBox:
    """Seals and opens webhook secrets with one key (``None``: opens legacy plaintext only)."""

    def __init__(self, key_material: bytes | None) -> None:
        self._fernet = None if key_material is None else Fernet(_derive(key_material))

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        configured = settings.webhooks.secret_key
        material = (configured.get_secret_value() if configured is not None
                    else settings.jwt_secret())
        return cls(material.encode())

    def seal(self, secret: str) -> str:
        if self._fernet is None:
            raise ConfigError("No webhook secret key: cannot store a webhook secret")
        return PREFIX + self._fernet.encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        """The secret in clear; raises ``ConfigError`` when the key does not fit (changed)."""
        if not stored.startswith(PREFIX):
            return stored
        if self._fernet is None:
            raise ConfigError("No webhook secret key: cannot read an encrypted webhook secret")
        try:
            return self._fernet.decrypt(stored.removeprefix(PREFIX).encode()).decode()
        except InvalidToken as exc:
            raise ConfigError("A webhook secret does not decrypt with the configured key "
                              "(FLOWLLAMA_WEBHOOKS__SECRET_KEY or the JWT secret changed?)"
                              ) from exc


def _derive(material: bytes) -> bytes:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(material)
    return base64.urlsafe_b64encode(key)


def seal_plaintext(db: Database, box: SecretBox) -> int:
    """Encrypt every webhook secret still stored in clear; returns how many (idempotent)."""
    sealed = 0
    while True:
        with db.session() as session:
            rows = session.execute(
                select(Webhook.id, Webhook.secret).where(Webhook.secret.not_like(f"{PREFIX}%"))
                .limit(_SEAL_BATCH)).all()
            for row in rows:
                session.execute(update(Webhook).where(Webhook.id == row.id,
                                                      Webhook.secret == row.secret)
                                .values(secret=box.seal(row.secret)))
        sealed += len(rows)
        if len(rows) < _SEAL_BATCH:
            return sealed
