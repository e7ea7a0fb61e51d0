"""Rows built straight in the database for the webhook tests (the loopback ``receiver``
fixture lives in ``tests/webhook_receiver.py``, shared with the end-to-end tests)."""

from __future__ import annotations

import pytest

from flowllama.db.session import Database
from flowllama.db.tables import Deployment, User, Webhook


class Rows:
    """Builds users, deployments and webhooks straight in the database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def user(self, email: str = "ada@example.com") -> User:
        with self.db.session() as session:
            user = User(email=email, password_hash="x")
            session.add(user)
        return user

    def deployment(self, user: User, status: str = "starting", name: str = "chat"
                   ) -> Deployment:
        with self.db.session() as session:
            deployment = Deployment(user_id=user.id, name=name, model="llama3.2:1b",
                                    context_size=2048, status=status)
            session.add(deployment)
        return deployment

    def webhook(self, user: User, url: str, events: list[str],
                secret: str = "whsec_test-secret") -> Webhook:
        with self.db.session() as session:
            hook = Webhook(user_id=user.id, url=url, events=events, secret=secret)
            session.add(hook)
        return hook


@pytest.fixture
def rows(database: Database) -> Rows:
    return Rows(database)
