"""The accounts API end to end through the ASGI app, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from email import message_from_bytes

import jwt
import pytest
from fastapi.testclient import TestClient

from factories import STRONG_PASSWORD, bearer, register_and_login, work_the_mail_queues
from flowllama.platform import Platform


def _error(response: object) -> dict[str, str]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}
    return body["error"]  # type: ignore[no-any-return]


class TestRegister:
    def test_creates_account(self, client: TestClient) -> None:
        response = client.post("/api/auth/register",
                               json={"email": "Ada@Example.com", "password": STRONG_PASSWORD})
        assert response.status_code == 201
        body = response.json()
        assert body["email"] == "ada@example.com"
        assert re.fullmatch(r"[0-9a-f]{32}", body["id"])
        assert "password" not in response.text

    def test_duplicate_email_is_409(self, client: TestClient) -> None:
        body = {"email": "ada@example.com", "password": STRONG_PASSWORD}
        assert client.post("/api/auth/register", json=body).status_code == 201
        again = client.post("/api/auth/register", json={**body, "email": "ADA@example.com"})
        assert again.status_code == 409
        assert _error(again)["field"] == "email"

    @pytest.mark.parametrize(
        ("password", "reason"),
        [("short1!", "at least 10"), ("password123", "too common"), ("aaaaaaaaaaaa", "distinct")],
    )
    def test_weak_password_is_422_with_reason(
        self, client: TestClient, password: str, reason: str
    ) -> None:
        response = client.post("/api/auth/register",
                               json={"email": "ada@example.com", "password": password})
        assert response.status_code == 422
        error = _error(response)
        assert error["field"] == "password"
        assert reason in error["message"]

    @pytest.mark.parametrize(
        ("payload", "field"),
        [
            ({"email": "not-an-email", "password": STRONG_PASSWORD}, "email"),
            ({"password": STRONG_PASSWORD}, "email"),
            ({"email": "ada@example.com"}, "password"),
            ({"email": "ada@example.com", "password": STRONG_PASSWORD, "admin": True}, "admin"),
        ],
    )
    def test_bad_input_names_the_field(
        self, client: TestClient, payload: dict[str, object], field: str
    ) -> None:
        response = client.post("/api/auth/register", json=payload)
        assert response.status_code == 422
        assert _error(response)["field"] == field

    def test_malformed_json_is_422_not_500(self, client: TestClient) -> None:
        response = client.post("/api/auth/register", content=b"{not json",
                               headers={"Content-Type": "application/json"})
        assert response.status_code == 422
        assert _error(response)["code"] == "invalid_input"


class TestLogin:
    def test_returns_token_pair(self, client: TestClient, platform: Platform) -> None:
        tokens = register_and_login(client)
        assert tokens["token_type"] == "bearer"
        assert tokens["expires_in"] == platform.auth.access_ttl_s
        header = jwt.get_unverified_header(tokens["access_token"])
        assert header["alg"] == "HS256"
        claims = jwt.decode(tokens["access_token"], platform.auth.jwt_secret,
                            algorithms=["HS256"], audience="flowllama-api")
        assert {"exp", "iat", "sub", "jti", "iss", "aud"} <= set(claims)
        assert claims["iss"] == "flowllama"

    def test_unknown_email_and_wrong_password_look_the_same(self, client: TestClient) -> None:
        register_and_login(client)
        wrong = client.post("/api/auth/login",
                            json={"email": "ada@example.com", "password": "wrong password!"})
        unknown = client.post("/api/auth/login",
                              json={"email": "bob@example.com", "password": "wrong password!"})
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json() == unknown.json()

    def test_repeated_failures_are_throttled(self, client: TestClient, platform: Platform
                                             ) -> None:
        register_and_login(client)
        bad = {"email": "ada@example.com", "password": "wrong password!"}
        for _ in range(platform.auth.throttle.max_failures):
            assert client.post("/api/auth/login", json=bad).status_code == 401
        throttled = client.post("/api/auth/login", json=bad)
        assert throttled.status_code == 429
        assert int(throttled.headers["Retry-After"]) >= 1
        # Even the right password waits until the window passes.
        good = {"email": "ada@example.com", "password": STRONG_PASSWORD}
        assert client.post("/api/auth/login", json=good).status_code == 429


class TestRefresh:
    def test_rotates_and_reuse_revokes_family(self, client: TestClient) -> None:
        first = register_and_login(client)
        second = client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert second.status_code == 200
        pair = second.json()
        assert pair["refresh_token"] != first["refresh_token"]
        assert client.get("/api/auth/me", headers=bearer(pair)).status_code == 200

        replay = client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert replay.status_code == 401
        assert _error(replay)["code"] == "token_reused"
        # The whole family is gone: the newest refresh token and its access token too.
        latest = client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert latest.status_code == 401
        assert client.get("/api/auth/me", headers=bearer(pair)).status_code == 401

    def test_unknown_token_is_401(self, client: TestClient) -> None:
        response = client.post("/api/auth/refresh", json={"refresh_token": "nope"})
        assert response.status_code == 401


class TestLogoutAndMe:
    def test_me_returns_user(self, client: TestClient) -> None:
        tokens = register_and_login(client)
        response = client.get("/api/auth/me", headers=bearer(tokens))
        assert response.status_code == 200
        assert response.json()["email"] == "ada@example.com"
        assert "password_hash" not in response.text

    @pytest.mark.parametrize("header", [None, "Bearer", "Basic abc", "Bearer not.a.jwt"])
    def test_me_without_valid_token_is_401(self, client: TestClient, header: str | None) -> None:
        headers = {"Authorization": header} if header else {}
        response = client.get("/api/auth/me", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"

    def test_alg_none_and_other_algorithms_rejected(self, client: TestClient,
                                                    platform: Platform) -> None:
        tokens = register_and_login(client)
        claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
        unsigned = jwt.encode(claims, key=None, algorithm="none")
        hs512 = jwt.encode(claims, platform.auth.jwt_secret, algorithm="HS512")
        for forged in (unsigned, hs512):
            response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"})
            assert response.status_code == 401

    def test_expired_token_rejected(self, client: TestClient, platform: Platform) -> None:
        tokens = register_and_login(client)
        claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
        claims["exp"] = claims["iat"] - 1
        expired = jwt.encode(claims, platform.auth.jwt_secret, algorithm="HS256")
        response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {expired}"})
        assert response.status_code == 401
        assert _error(response)["code"] == "token_expired"

    def test_logout_revokes_session(self, client: TestClient) -> None:
        tokens = register_and_login(client)
        assert client.post("/api/auth/logout", headers=bearer(tokens)).status_code == 204
        assert client.get("/api/auth/me", headers=bearer(tokens)).status_code == 401
        refreshed = client.post("/api/auth/refresh",
                                json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 401

    def test_logout_requires_auth(self, client: TestClient) -> None:
        assert client.post("/api/auth/logout").status_code == 401


def _reset_link(platform: Platform) -> str:
    """The token in the newest mail, read from the raw file as a person would copy it."""
    work_the_mail_queues(platform)
    files = sorted((platform.settings.data_dir / "outbox").glob("*.eml"))
    assert files, "no mail in the outbox"
    raw = files[-1].read_bytes()
    message = message_from_bytes(raw)
    assert message["Content-Transfer-Encoding"] in ("7bit", "8bit")
    match = re.search(r"token=([A-Za-z0-9_\-%]+)", raw.decode())
    assert match
    return match.group(1)


class TestPasswordReset:
    def test_unknown_email_gets_same_answer_and_no_mail(
        self, client: TestClient, platform: Platform
    ) -> None:
        register_and_login(client)
        known = client.post("/api/auth/password-reset/request", json={"email": "ada@example.com"})
        unknown = client.post("/api/auth/password-reset/request",
                              json={"email": "nobody@example.com"})
        assert known.status_code == unknown.status_code == 202
        assert known.json() == unknown.json()
        work_the_mail_queues(platform)
        assert len(list((platform.settings.data_dir / "outbox").glob("*.eml"))) == 1

    def test_full_reset_flow(self, client: TestClient, platform: Platform) -> None:
        old = register_and_login(client)
        client.post("/api/auth/password-reset/request", json={"email": "ada@example.com"})
        token = _reset_link(platform)
        new_password = "a brand new passphrase"
        confirm = client.post("/api/auth/password-reset/confirm",
                              json={"token": token, "new_password": new_password})
        assert confirm.status_code == 204
        # Old sessions are over, old password is refused, new one works.
        assert client.get("/api/auth/me", headers=bearer(old)).status_code == 401
        assert client.post("/api/auth/refresh",
                           json={"refresh_token": old["refresh_token"]}).status_code == 401
        assert client.post("/api/auth/login", json={"email": "ada@example.com",
                                                    "password": STRONG_PASSWORD}).status_code == 401
        login = client.post("/api/auth/login",
                            json={"email": "ada@example.com", "password": new_password})
        assert login.status_code == 200
        assert client.get("/api/auth/me", headers=bearer(login.json())).status_code == 200
        # Single use.
        again = client.post("/api/auth/password-reset/confirm",
                            json={"token": token, "new_password": "yet another passphrase"})
        assert again.status_code == 422
        assert _error(again)["field"] == "token"

    def test_weak_new_password_keeps_token_usable(
        self, client: TestClient, platform: Platform
    ) -> None:
        register_and_login(client)
        client.post("/api/auth/password-reset/request", json={"email": "ada@example.com"})
        token = _reset_link(platform)
        weak = client.post("/api/auth/password-reset/confirm",
                           json={"token": token, "new_password": "short"})
        assert weak.status_code == 422
        assert _error(weak)["field"] == "new_password"
        ok = client.post("/api/auth/password-reset/confirm",
                         json={"token": token, "new_password": "a brand new passphrase"})
        assert ok.status_code == 204

    def test_expired_or_unknown_token_refused(self, client: TestClient) -> None:
        response = client.post("/api/auth/password-reset/confirm",
                               json={"token": "made-up", "new_password": "a brand new passphrase"})
        assert response.status_code == 422
        assert _error(response)["code"] == "invalid_token"
