"""``flowllama admin users ...`` and ``admin dead-letters ...`` against the real API, as an
administrator (and refused to anyone else with the API's message)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from client.conftest import Cli
from factories import STRONG_PASSWORD, register_and_login
from flowllama.platform import Platform
from flowllama.services import users


def test_admin_users_and_dead_letters(cli: Cli, client: TestClient, platform: Platform) -> None:
    register_and_login(client)
    assert cli.login().exit_code == 0
    refused = cli("admin", "users", "ls")
    assert refused.exit_code == 1 and "forbidden" in refused.stderr

    with platform.db.session() as session:
        users.create_user(session, "root@example.com", STRONG_PASSWORD, is_admin=True)
    assert cli.login("root@example.com").exit_code == 0
    listed = cli.json("admin", "users", "ls")
    assert [u["email"] for u in listed] == ["ada@example.com", "root@example.com"]
    assert "ada@example.com" in cli("admin", "users", "ls").stdout

    assert cli.json("admin", "users", "disable", "ada@example.com")["disabled_at"]
    login = client.post("/api/auth/login",
                        json={"email": "ada@example.com", "password": STRONG_PASSWORD})
    assert login.status_code == 403
    ada_id = listed[0]["id"]
    assert cli.json("admin", "users", "enable", ada_id)["disabled_at"] is None
    assert cli.json("admin", "users", "promote", "ada@example.com")["is_admin"] is True
    missing = cli("admin", "users", "promote", "nobody@example.com")
    assert missing.exit_code == 1 and "No user" in missing.stderr

    platform.queue.enqueue(ada_id, "reconcile", {"why": "test"})
    job = platform.queue.lease()
    assert job is not None
    platform.queue.dead_letter(job, "ProvisioningFailed: the cloud said no")
    [dead] = cli.json("admin", "dead-letters", "ls")
    assert dead["last_error"] == "ProvisioningFailed: the cloud said no"
    assert cli.json("admin", "dead-letters", "requeue", job.id)["id"] == job.id
    assert cli.json("admin", "dead-letters", "ls") == []
    assert platform.queue.depth().ready == 1
