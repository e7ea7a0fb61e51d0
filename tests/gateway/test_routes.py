"""The route table: only the owner's live deployments, only healthy live instances with an
endpoint, deployment names before model names, and a TTL cache."""

from __future__ import annotations

import asyncio

from flowllama.db.session import Database
from flowllama.db.tables import Instance
from flowllama.db.types import utcnow
from flowllama.gateway.routes import OwnerRoutes, RouteCache, load_owner_routes
from flowllama.security.runtime_keys import RuntimeKeys
from gateway.conftest import add_deployment, make_owner


def test_owner_routes(database: Database) -> None:
    ada, eve = make_owner(database, "ada@example.com"), make_owner(database, "eve@example.com")
    bot = add_deployment(database, ada, "bot", "llama3.1:8b", ["http://a/v1/", "http://b/v1"])
    add_deployment(database, ada, "bot2", "llama3.1:8b", ["http://c/v1"])
    add_deployment(database, ada, "llama3.1:8b", "qwen2.5:7b", ["http://d/v1"])
    add_deployment(database, ada, "parked", "gemma2:2b", ["http://e/v1"], status="stopped")
    add_deployment(database, eve, "evebot", "mistral:7b", ["http://f/v1"])
    with database.session() as session:
        session.add(Instance(deployment_id=bot.id, provider="local", endpoint_url="http://x/v1",
                             status="unhealthy"))
        session.add(Instance(deployment_id=bot.id, provider="local", endpoint_url="http://y/v1",
                             status="healthy", terminated_at=utcnow()))
        session.add(Instance(deployment_id=bot.id, provider="local", status="healthy"))

    routes = load_owner_routes(database, ada.user.id)
    assert sorted(t.name for t in routes.targets) == ["bot", "bot2", "llama3.1:8b", "parked"]
    (target,) = routes.resolve("bot")
    assert [u.base_url for u in target.upstreams] == ["http://a/v1", "http://b/v1"]
    # A deployment named like a model wins over the model name.
    assert [t.name for t in routes.resolve("llama3.1:8b")] == ["llama3.1:8b"]
    assert [t.name for t in routes.resolve("qwen2.5:7b")] == ["llama3.1:8b"]
    (parked,) = routes.resolve("parked")
    assert not parked.serving and parked.upstreams == ()
    assert routes.resolve("evebot") == routes.resolve("mistral:7b") == ()
    assert load_owner_routes(database, "nobody").targets == ()


def test_upstreams_carry_their_deployments_runtime_key(database: Database) -> None:
    ada = make_owner(database, "ada@example.com")
    bot = add_deployment(database, ada, "bot", "local/tiny", ["http://a/v1"])
    keys = RuntimeKeys("platform secret")
    (target,) = load_owner_routes(database, ada.user.id, keys).resolve("bot")
    assert [u.auth_headers for u in target.upstreams] == [
        (("Authorization", f"Bearer {keys.key(bot.id)}"),)]


def test_route_cache_ttl_and_invalidate() -> None:
    calls: list[str] = []
    now = [0.0]

    async def loader(user_id: str) -> OwnerRoutes:
        calls.append(user_id)
        return OwnerRoutes(())

    cache = RouteCache(loader, ttl_s=2, clock=lambda: now[0])
    asyncio.run(cache.for_owner("u"))
    asyncio.run(cache.for_owner("u"))
    assert calls == ["u"]
    now[0] = 2.5
    asyncio.run(cache.for_owner("u"))
    cache.invalidate("u")
    asyncio.run(cache.for_owner("u"))
    assert calls == ["u", "u", "u"]


def test_native_api_root_only_for_ollama_instances(database: Database) -> None:
    from flowllama.gateway.routes import runtime_of

    ada = make_owner(database, "ada@example.com")
    add_deployment(database, ada, "tag", "llama3.1:8b", ["http://o:11434/v1"])
    add_deployment(database, ada, "gguf", "local/tiny", ["http://l:8081/v1"])
    routes = load_owner_routes(database, ada.user.id)
    assert routes.by_name["tag"].upstreams[0].native_base_url == "http://o:11434"
    assert routes.by_name["gguf"].upstreams[0].native_base_url is None
    assert runtime_of("auto", "local/x", {"data": {"runtime": "ollama"}}) == "ollama"
    assert runtime_of("llamacpp", "llama3.1:8b", {}) == "llamacpp"


def test_draining_instances_get_nothing_new_and_replacements_keep_serving(
        database: Database) -> None:
    """Blue/green: a deployment being healed or started keeps its healthy servers routed; a
    server marked draining is routed no more; a deployment put to sleep is not routed."""
    ada = make_owner(database, "ada@example.com")
    healing = add_deployment(database, ada, "healing", "m1", ["http://old/v1"], status="healing")
    add_deployment(database, ada, "starting", "m2", ["http://s/v1"], status="starting")
    add_deployment(database, ada, "asleep", "m3", ["http://z/v1"], status="sleeping")
    with database.session() as session:
        session.add(Instance(deployment_id=healing.id, provider="local",
                             endpoint_url="http://drained/v1", status="healthy",
                             draining_since=utcnow(), slot="s1"))
    routes = load_owner_routes(database, ada.user.id)
    assert [u.base_url for u in routes.resolve("healing")[0].upstreams] == ["http://old/v1"]
    assert [u.base_url for u in routes.resolve("starting")[0].upstreams] == ["http://s/v1"]
    (asleep,) = routes.resolve("asleep")
    assert not asleep.serving and asleep.upstreams == ()
