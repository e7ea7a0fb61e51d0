"""Retention: finished records older than their period are purged in bounded batches; live
ones (queued jobs, pending deliveries, valid tokens, recent rows) are kept."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import func, select

from flowllama.db.session import Database
from flowllama.db.tables import (
    Deployment,
    DeploymentEvent,
    Job,
    MailOutbox,
    PasswordResetToken,
    RefreshToken,
    ResetRequest,
    User,
    Webhook,
    WebhookDelivery,
)
from flowllama.db.types import new_id, utcnow
from flowllama.loops import LoopHealth
from flowllama.services.mail_outbox import MAX_ATTEMPTS
from flowllama.services.retention import RetentionPurger, purge
from flowllama.settings import RetentionSettings

OLD = utcnow() - timedelta(days=400)


def _count(db: Database, table: type) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def _seed(db: Database) -> None:
    now = utcnow()
    with db.session() as session:
        user = User(email="old@example.com", password_hash="x")
        session.add(user)
        session.flush()
        deployment = Deployment(user_id=user.id, name="chat", model="m", context_size=512)
        hook = Webhook(user_id=user.id, url="https://hooks.example.com/", events=[], secret="s")
        session.add_all([deployment, hook])
        session.flush()
        for status in ("done", "dead", "done", "queued"):
            session.add(Job(user_id=user.id, kind="reconcile", status=status, created_at=OLD,
                            updated_at=OLD))
        session.add(Job(user_id=user.id, kind="reconcile", status="done"))  # recent
        session.add_all([DeploymentEvent(deployment_id=deployment.id, to_status="running",
                                         at=at) for at in (OLD, OLD, now)])
        for status in ("delivered", "failed", "pending"):
            session.add(WebhookDelivery(webhook_id=hook.id, event="deployment.running",
                                        payload={}, status=status, created_at=OLD))
        for expires_at in (OLD, now + timedelta(days=1)):
            session.add(RefreshToken(user_id=user.id, family_id=new_id(), token_hash=new_id(),
                                     expires_at=expires_at))
            session.add(PasswordResetToken(user_id=user.id, token_hash=new_id(),
                                           expires_at=expires_at))
        for at in (OLD, now):
            session.add(MailOutbox(recipient="a@example.com", subject="s", body="b",
                                   sent_at=at))
            session.add(ResetRequest(email="a@example.com", processed_at=at))
        session.add(MailOutbox(recipient="a@example.com", subject="s", body="b"))  # unsent
        # Given up for good (a reset link nobody will read): purged once old; an old one the
        # worker still retries and a recent given-up one are kept.
        for attempts, created_at in ((MAX_ATTEMPTS, OLD), (MAX_ATTEMPTS + 1, OLD),
                                     (MAX_ATTEMPTS - 1, OLD), (MAX_ATTEMPTS, now)):
            session.add(MailOutbox(recipient="b@example.com", subject="s", body="reset link",
                                   attempts=attempts, created_at=created_at))
        session.add(ResetRequest(email="a@example.com"))  # not processed yet


def test_purge_deletes_what_is_past_retention_and_keeps_the_rest(database: Database) -> None:
    _seed(database)
    deleted = purge(database, RetentionSettings(batch_size=1))  # many one-row batches
    assert deleted == {"jobs": 3, "events": 2, "webhook_deliveries": 2, "refresh_tokens": 1,
                       "password_reset_tokens": 1, "sent_mail": 1, "failed_mail": 2,
                       "reset_requests": 1}
    assert _count(database, Job) == 2  # the queued one and the recent one
    assert _count(database, DeploymentEvent) == 1
    with database.session() as session:
        assert session.scalars(select(WebhookDelivery.status)).all() == ["pending"]
    assert _count(database, RefreshToken) == _count(database, PasswordResetToken) == 1
    assert _count(database, ResetRequest) == 2
    with database.session() as session:
        kept = session.execute(select(MailOutbox.attempts, MailOutbox.sent_at.is_not(None))).all()
    # the recent sent one, the unsent one, the one still retried, the recent given-up one
    assert sorted((attempts, sent) for attempts, sent in kept) == sorted(
        [(0, True), (0, False), (MAX_ATTEMPTS - 1, False), (MAX_ATTEMPTS, False)])
    assert set(purge(database, RetentionSettings()).values()) == {0}  # nothing left to do


def test_zero_days_keeps_a_kind_forever(database: Database) -> None:
    _seed(database)
    deleted = purge(database, RetentionSettings(events_days=0, jobs_days=0))
    assert "events" not in deleted and "jobs" not in deleted
    assert _count(database, DeploymentEvent) == 3


def test_the_purger_runs_in_the_background(database: Database) -> None:
    _seed(database)
    loops = LoopHealth()
    purger = RetentionPurger(database, RetentionSettings(interval_s=3600), loops)
    purger.start()
    try:
        deadline = time.monotonic() + 30
        while _count(database, MailOutbox) > 4 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        purger.stop()
    assert _count(database, MailOutbox) == 4  # 7 seeded: one old sent, two old given up
    assert loops.problems() == {} and loops.beats() == []  # stopped on purpose: retired
