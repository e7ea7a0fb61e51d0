"""Admin endpoints: dead letters are listed with their error and can be requeued; users are
listed, disabled (sessions and keys end), enabled and promoted."""

from __future__ import annotations

from fastapi.testclient import TestClient

from factories import STRONG_PASSWORD, bearer, register_and_login
from flowllama.platform import Platform
from flowllama.services import api_keys, users


def _admin(client: TestClient, platform: Platform) -> dict[str, str]:
    with platform.db.session() as session:
        users.create_user(session, "root@example.com", STRONG_PASSWORD, is_admin=True)
    response = client.post("/api/auth/login",
                           json={"email": "root@example.com", "password": STRONG_PASSWORD})
    return bearer(response.json())


def _dead_job(platform: Platform, user_id: str) -> str:
    queue = platform.queue
    queue.enqueue(user_id, "reconcile", {"why": "test"})
    job = queue.lease()
    assert job is not None
    queue.dead_letter(job, "ProvisioningFailed: the cloud said no")
    return job.id


def test_dead_letters_are_listed_and_requeued(client: TestClient, platform: Platform) -> None:
    owner = register_and_login(client)
    me = client.get("/api/auth/me", headers=bearer(owner)).json()
    job_id = _dead_job(platform, me["id"])
    admin = _admin(client, platform)

    listed = client.get("/api/admin/dead-letters", headers=admin)
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert item["id"] == job_id and item["attempts"] == 1
    assert item["last_error"] == "ProvisioningFailed: the cloud said no"

    requeued = client.post(f"/api/admin/dead-letters/{job_id}/requeue", headers=admin)
    assert requeued.status_code == 202 and requeued.json()["id"] == job_id
    assert client.get("/api/admin/dead-letters", headers=admin).json()["items"] == []
    assert platform.queue.depth().ready == 1
    again = client.post(f"/api/admin/dead-letters/{job_id}/requeue", headers=admin)
    assert again.status_code == 404


def test_admin_endpoints_refuse_other_users(client: TestClient) -> None:
    user = bearer(register_and_login(client))
    assert client.get("/api/admin/dead-letters", headers=user).status_code == 403
    assert client.post("/api/admin/dead-letters/x/requeue", headers=user).status_code == 403
    assert client.get("/api/admin/dead-letters").status_code == 401


def test_users_are_listed_disabled_enabled_and_promoted(client: TestClient,
                                                        platform: Platform) -> None:
    tokens = register_and_login(client)
    owner = bearer(tokens)
    key = client.post("/api/keys", json={"name": "k"}, headers=owner).json()
    admin = _admin(client, platform)

    page = client.get("/api/admin/users", headers=admin).json()
    assert [u["email"] for u in page["items"]] == ["ada@example.com", "root@example.com"]
    [ada] = client.get("/api/admin/users", params={"email": "ADA@example.com"},
                       headers=admin).json()["items"]
    assert (ada["is_admin"], ada["disabled_at"]) == (False, None)

    disabled = client.post(f"/api/admin/users/{ada['id']}/disable", headers=admin)
    assert disabled.status_code == 200 and disabled.json()["disabled_at"]
    # Sessions end, keys are revoked, login is refused with a reason.
    assert client.get("/api/auth/me", headers=owner).status_code == 401
    assert client.post("/api/auth/refresh",
                       json={"refresh_token": tokens["refresh_token"]}).status_code == 401
    with platform.db.session() as session:
        row = api_keys.find_by_secret(session, key["key"])
        assert row is not None and not api_keys.is_usable(row)
    login = client.post("/api/auth/login",
                        json={"email": "ada@example.com", "password": STRONG_PASSWORD})
    assert login.status_code == 403 and login.json()["error"]["code"] == "account_disabled"

    assert client.post(f"/api/admin/users/{ada['id']}/enable",
                       headers=admin).json()["disabled_at"] is None
    relogin = client.post("/api/auth/login",
                          json={"email": "ada@example.com", "password": STRONG_PASSWORD})
    assert relogin.status_code == 200
    promoted = client.post(f"/api/admin/users/{ada['id']}/promote", headers=admin)
    assert promoted.json()["is_admin"] is True
    assert client.get("/api/admin/users", headers=bearer(relogin.json())).status_code == 200


def test_an_admin_cannot_disable_themselves_and_unknown_users_are_404(
        client: TestClient, platform: Platform) -> None:
    admin = _admin(client, platform)
    me = client.get("/api/auth/me", headers=admin).json()
    refused = client.post(f"/api/admin/users/{me['id']}/disable", headers=admin)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "own_account"
    for path in ("/api/admin/users/nope", "/api/admin/users/nope/promote"):
        method = client.get if path.endswith("nope") else client.post
        assert method(path, headers=admin).status_code == 404


def test_user_admin_endpoints_refuse_other_users(client: TestClient) -> None:
    user = bearer(register_and_login(client))
    me = client.get("/api/auth/me", headers=user).json()
    assert client.get("/api/admin/users", headers=user).status_code == 403
    for action in ("disable", "enable", "promote"):
        assert client.post(f"/api/admin/users/{me['id']}/{action}",
                           headers=user).status_code == 403
