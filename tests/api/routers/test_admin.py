"""Admin endpoints: dead letters are listed with their error and can be requeued."""

from __future__ import annotations

from fastapi.testclient import TestClient

from factories import STRONG_PASSWORD, bearer, register_and_login
from flowllama.platform import Platform
from flowllama.services import users


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
