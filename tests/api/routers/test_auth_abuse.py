"""The accounts API under abuse: throttles keyed by client address, trusted proxies, atomic
counting under parallel requests, mail that never blocks a request, and token scope; on
SQLite and PostgreSQL."""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
from fastapi.testclient import TestClient

from factories import STRONG_PASSWORD, register_and_login
from flowllama.api.app import create_app
from flowllama.db.session import Database
from flowllama.platform import Platform, build_platform
from flowllama.server import ALL_ROLES
from flowllama.settings import RequestLimit, Settings

GOOD = {"email": "ada@example.com", "password": STRONG_PASSWORD}
BAD = {"email": "ada@example.com", "password": "wrong password!"}


def _client_from(platform: Platform, host: str) -> TestClient:
    return TestClient(create_app(platform, ALL_ROLES), client=(host, 40000))


@pytest.fixture
def tight(settings: Settings, database: Database) -> Iterator[Platform]:
    """Small limits, so reaching them takes few (slow, password-hashing) requests."""
    limit = RequestLimit(max=4, window_s=3600)
    auth = settings.auth.model_copy(update={
        "login_max_failures": 2, "register_limit": limit, "reset_limit": limit,
        "reset_per_email": RequestLimit(max=2, window_s=3600), "refresh_limit": limit})
    yield build_platform(settings.model_copy(update={"auth": auth}), db=database)


@pytest.fixture
def tight_client(tight: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(tight, ALL_ROLES)) as test_client:
        yield test_client


@pytest.fixture
def proxied(settings: Settings, database: Database) -> Iterator[Platform]:
    """A platform that trusts the proxies in 10.0.0.0/8 (and only them)."""
    trusting = settings.model_copy(update={"http": settings.http.model_copy(
        update={"trusted_proxies": ["10.0.0.0/8"]})})
    yield build_platform(trusting, db=database)


class TestLoginThrottle:
    def test_strangers_failures_do_not_lock_out_the_owner(self, tight_client: TestClient,
                                                          tight: Platform) -> None:
        register_and_login(tight_client)
        with _client_from(tight, "203.0.113.9") as stranger:
            for _ in range(tight.auth.throttle.max_failures + 1):
                stranger.post("/api/auth/login", json=BAD)
            assert stranger.post("/api/auth/login", json=BAD).status_code == 429
        with _client_from(tight, "198.51.100.4") as owner:
            assert owner.post("/api/auth/login", json=GOOD).status_code == 200

    def test_one_address_spraying_many_emails_is_throttled(self, tight_client: TestClient,
                                                           tight: Platform) -> None:
        limit = tight.auth.throttle.address_limit().max
        statuses = [tight_client.post("/api/auth/login",
                                      json={**BAD, "email": f"u{i}@example.com"}).status_code
                    for i in range(limit + 2)]
        assert statuses[:limit] == [401] * limit
        assert statuses[limit:] == [429, 429]

    def test_an_ipv6_client_rotating_addresses_in_its_64_is_counted_once(
            self, tight: Platform) -> None:
        limit = tight.auth.throttle.address_limit().max
        statuses = []
        for i in range(limit + 2):  # a new address of the same /64 for every guess
            with _client_from(tight, f"2001:db8:1:2::{i + 1:x}") as rotating:
                statuses.append(rotating.post(
                    "/api/auth/login", json={**BAD, "email": f"u{i}@example.com"}).status_code)
        assert statuses == [401] * limit + [429, 429]
        with _client_from(tight, "2001:db8:1:3::1") as neighbour_site:  # another /64
            assert neighbour_site.post("/api/auth/login", json=BAD).status_code == 401

    def test_parallel_wrong_passwords_get_exactly_the_allowed_number_of_tries(
        self, client: TestClient, platform: Platform
    ) -> None:
        register_and_login(client)
        with ThreadPoolExecutor(max_workers=40) as pool:
            statuses = Counter(pool.map(
                lambda _: client.post("/api/auth/login", json=BAD).status_code, range(40)))
        allowed = platform.auth.throttle.max_failures
        assert statuses == {401: allowed, 429: 40 - allowed}

    def test_a_correct_password_gives_its_count_back(self, tight_client: TestClient,
                                                     tight: Platform) -> None:
        register_and_login(tight_client)
        for _ in range(tight.auth.throttle.address_limit().max + 2):
            assert tight_client.post("/api/auth/login", json=GOOD).status_code == 200


class TestTrustedProxies:
    def test_forwarded_address_counts_only_from_a_trusted_proxy(self, proxied: Platform
                                                                ) -> None:
        with _client_from(proxied, "10.1.2.3") as via_proxy:
            register_and_login(via_proxy)
            for _ in range(proxied.auth.throttle.max_failures):
                via_proxy.post("/api/auth/login", json=BAD,
                               headers={"X-Forwarded-For": "203.0.113.9"})
            attacker = via_proxy.post("/api/auth/login", json=BAD,
                                      headers={"X-Forwarded-For": "203.0.113.9"})
            owner = via_proxy.post("/api/auth/login", json=GOOD,
                                   headers={"X-Forwarded-For": "198.51.100.4"})
        assert attacker.status_code == 429
        assert owner.status_code == 200

    def test_untrusted_peer_cannot_pick_its_address(self, client: TestClient,
                                                    platform: Platform) -> None:
        register_and_login(client)
        statuses = [client.post("/api/auth/login", json=BAD,
                                headers={"X-Forwarded-For": f"192.0.2.{i}"}).status_code
                    for i in range(platform.auth.throttle.max_failures + 1)]
        assert statuses[-1] == 429


class TestOtherThrottles:
    def test_register_is_throttled_per_address(self, tight_client: TestClient,
                                               tight: Platform) -> None:
        limit = tight.auth.limits.register.max
        for i in range(limit):
            tight_client.post("/api/auth/register",
                              json={"email": f"n{i}@example.com", "password": STRONG_PASSWORD})
        refused = tight_client.post(
            "/api/auth/register", json={"email": "late@example.com", "password": STRONG_PASSWORD})
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1

    def test_register_counts_an_ipv6_client_by_its_64(self, tight: Platform) -> None:
        limit = tight.auth.limits.register.max
        statuses = []
        for i in range(limit + 1):
            with _client_from(tight, f"2001:db8:77:1:{i + 1:x}::9") as rotating:
                statuses.append(rotating.post("/api/auth/register", json={
                    "email": f"v6-{i}@example.com", "password": STRONG_PASSWORD}).status_code)
        assert statuses == [201] * limit + [429]

    def test_reset_request_is_throttled_per_email(self, tight_client: TestClient,
                                                  tight: Platform) -> None:
        limit = tight.auth.limits.reset_per_email.max
        statuses = [tight_client.post("/api/auth/password-reset/request",
                                      json={"email": "ada@example.com"}).status_code
                    for _ in range(limit + 1)]
        assert statuses == [202] * limit + [429]
        # Below the per-address limit, another email still gets through.
        other = tight_client.post("/api/auth/password-reset/request",
                                  json={"email": "bob@example.com"})
        assert other.status_code == 202

    def test_refresh_is_throttled_per_address(self, tight_client: TestClient,
                                              tight: Platform) -> None:
        limit = tight.auth.limits.refresh.max
        statuses = [tight_client.post("/api/auth/refresh", json={"refresh_token": "nope"}
                                      ).status_code for _ in range(limit + 1)]
        assert statuses == [401] * limit + [429]


def _dead_smtp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: connecting is refused at once


class TestResetWithMailDown:
    @pytest.fixture
    def smtp_down(self, settings: Settings, database: Database) -> Iterator[TestClient]:
        broken = settings.model_copy(update={"mail": settings.mail.model_copy(update={
            "smtp_host": "127.0.0.1", "smtp_port": _dead_smtp_port(), "outbox_poll_s": 0.05})})
        platform = build_platform(broken, db=database)
        with TestClient(create_app(platform, ALL_ROLES)) as test_client:
            yield test_client

    def test_known_and_unknown_email_get_the_same_202(self, smtp_down: TestClient) -> None:
        register_and_login(smtp_down)
        known = smtp_down.post("/api/auth/password-reset/request",
                               json={"email": "ada@example.com"})
        unknown = smtp_down.post("/api/auth/password-reset/request",
                                 json={"email": "nobody@example.com"})
        assert known.status_code == unknown.status_code == 202
        assert known.json() == unknown.json()

    def test_the_worker_keeps_the_message_and_retries(self, smtp_down: TestClient,
                                                      database: Database) -> None:
        register_and_login(smtp_down)
        smtp_down.post("/api/auth/password-reset/request", json={"email": "ada@example.com"})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rows = _outbox(database)
            if rows and rows[0][1] is not None:
                break
            time.sleep(0.05)
        [(attempts, error, sent_at)] = [(a, e, s) for a, e, s in _outbox(database)]
        assert attempts >= 1 and error and "refused" in error.lower()
        assert sent_at is None


class TestResetRequestsLookAlike:
    @pytest.fixture
    def idle_worker(self, settings: Settings, database: Database) -> Iterator[TestClient]:
        """The accounts worker sleeps through the test: what is left is the request's work."""
        slow = settings.model_copy(update={"mail": settings.mail.model_copy(update={
            "outbox_poll_s": 300.0})})
        with TestClient(create_app(build_platform(slow, db=database), ALL_ROLES)) as client:
            yield client

    def test_known_and_unknown_email_do_the_same_work(self, idle_worker: TestClient,
                                                      database: Database) -> None:
        register_and_login(idle_worker)
        before = _row_counts(database)
        for email in ("ada@example.com", "nobody@example.com"):
            response = idle_worker.post("/api/auth/password-reset/request",
                                        json={"email": email})
            assert response.status_code == 202
        after = _row_counts(database)
        # One queued request each; no token and no mail yet (the worker does that later).
        assert after["reset_requests"] - before["reset_requests"] == 2
        assert after["password_reset_tokens"] == before["password_reset_tokens"]
        assert after["mail_outbox"] == before["mail_outbox"]


def _row_counts(database: Database) -> dict[str, int]:
    from sqlalchemy import func, select

    from flowllama.db.tables import MailOutbox, PasswordResetToken, ResetRequest

    with database.session() as session:
        return {table.__tablename__: int(session.scalar(
                    select(func.count()).select_from(table)) or 0)
                for table in (ResetRequest, PasswordResetToken, MailOutbox)}


def _outbox(database: Database) -> list[tuple[int, str | None, object]]:
    from sqlalchemy import select

    from flowllama.db.tables import MailOutbox

    with database.session() as session:
        return [tuple(row) for row in session.execute(  # type: ignore[misc]
            select(MailOutbox.attempts, MailOutbox.last_error, MailOutbox.sent_at))]


class TestTokenScope:
    @pytest.mark.parametrize(("claim", "value"), [("iss", "someone-else"), ("aud", "other-api")])
    def test_foreign_issuer_or_audience_is_refused(self, client: TestClient, platform: Platform,
                                                   claim: str, value: str) -> None:
        tokens = register_and_login(client)
        claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
        claims[claim] = value
        forged = jwt.encode(claims, platform.auth.jwt_secret, algorithm="HS256")
        response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401

    def test_token_without_issuer_is_refused(self, client: TestClient, platform: Platform
                                             ) -> None:
        tokens = register_and_login(client)
        claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
        del claims["iss"], claims["aud"]
        forged = jwt.encode(claims, platform.auth.jwt_secret, algorithm="HS256")
        response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401
