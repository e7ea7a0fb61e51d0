"""The native Ollama passthrough with the official ``ollama`` client: read and inference routes
pass and inference is metered from Ollama's counts; model-changing routes are 404; only the
owner's Ollama deployments are reachable."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import ollama
import pytest

from flowllama.db.session import Database
from gateway.conftest import Owner, RunningGateway, add_deployment, make_owner, wait_usage
from gateway.fake_upstream import FakeUpstream, fake_upstream


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with fake_upstream() as running:
        yield running


def _client(gw: RunningGateway, owner: Owner, deployment: str) -> ollama.Client:
    return ollama.Client(host=f"{gw.base_url}/ollama/{deployment}",
                         headers={"Authorization": f"Bearer {owner.key}"}, timeout=30)


def test_read_and_inference_routes_pass_and_are_metered(
        running_gateway: RunningGateway, fake: FakeUpstream, owner: Owner,
        database: Database) -> None:
    add_deployment(database, owner, "chat", "fake:1b", [fake.instance("a")], runtime="ollama")
    client = _client(running_gateway, owner, "chat")
    assert [m.model for m in client.list().models] == ["fake:1b"]
    parts = [p.message.content for p in client.chat(
        model="fake:1b", messages=[{"role": "user", "content": "hi"}], stream=True)]
    assert "".join(p or "" for p in parts) == "hey"
    assert wait_usage(database, 1) == (1, 7, 2)


@pytest.mark.parametrize(("method", "route"), [
    ("POST", "pull"), ("POST", "push"), ("POST", "create"), ("POST", "copy"),
    ("DELETE", "delete"), ("POST", "blobs"), ("GET", "chat"), ("POST", "unknown")])
def test_model_changing_routes_are_404_and_never_reach_the_server(
        running_gateway: RunningGateway, fake: FakeUpstream, owner: Owner,
        database: Database, method: str, route: str) -> None:
    add_deployment(database, owner, "chat", "fake:1b", [fake.instance("a")], runtime="ollama")
    response = httpx.request(method, f"{running_gateway.base_url}/ollama/chat/api/{route}",
                             json={"model": "fake:1b"},
                             headers={"Authorization": f"Bearer {owner.key}"})
    assert response.status_code == 404 and "error" in response.json()
    assert not any(hit.endswith(f":{route}") for hit in fake.hits)


def test_other_tenants_llamacpp_and_keyless_requests_are_refused(
        running_gateway: RunningGateway, fake: FakeUpstream, owner: Owner,
        database: Database) -> None:
    eve = make_owner(database, "eve@example.com")
    add_deployment(database, eve, "evechat", "fake:1b", [fake.instance("e")], runtime="ollama")
    add_deployment(database, owner, "gguf", "local/tiny", [fake.instance("g")])
    for deployment in ("evechat", "gguf", "missing"):
        with pytest.raises(ollama.ResponseError) as caught:
            _client(running_gateway, owner, deployment).list()
        assert caught.value.status_code == 404
    anonymous = httpx.get(f"{running_gateway.base_url}/ollama/evechat/api/tags")
    assert anonymous.status_code == 401
    assert not fake.hits


def test_the_model_is_pinned_and_options_are_bounded(
        running_gateway: RunningGateway, fake: FakeUpstream, owner: Owner,
        database: Database) -> None:
    add_deployment(database, owner, "chat", "fake:1b", [fake.instance("a")], runtime="ollama")
    client = _client(running_gateway, owner, "chat")
    messages = [{"role": "user", "content": "hi"}]
    list(client.chat(model="secret-other-model:70b", messages=messages, stream=True,
                     options={"num_ctx": 512, "temperature": 0.5}))
    assert fake.native_bodies[-1]["model"] == "fake:1b"
    assert fake.native_bodies[-1]["options"] == {"num_ctx": 512, "temperature": 0.5}
    sent = len(fake.native_bodies)
    for options in ({"num_ctx": 1000000}, {"num_gpu": 99}, {"num_predict": 10**6}):
        with pytest.raises(ollama.ResponseError) as caught:
            client.chat(model="fake:1b", messages=messages, options=options)
        assert caught.value.status_code == 400
        assert next(iter(options)) in caught.value.error
    with pytest.raises(ollama.ResponseError):
        client.chat(model="fake:1b", messages=messages, keep_alive=0)
    assert len(fake.native_bodies) == sent, "a refused body reached the server"


@pytest.mark.parametrize("instance", ["crash", "http401", "http404"])
def test_a_runtime_failure_is_generic(running_gateway: RunningGateway, fake: FakeUpstream,
                                      owner: Owner, database: Database, instance: str) -> None:
    # A 401 (the runtime holds a rotated key) or 404 is the platform's fault, like a 500.
    add_deployment(database, owner, "chat", "fake:1b", [fake.instance(instance)],
                   runtime="ollama")
    response = httpx.post(f"{running_gateway.base_url}/ollama/chat/api/generate",
                          json={"model": "fake:1b", "prompt": "x"},
                          headers={"Authorization": f"Bearer {owner.key}"})
    assert response.status_code == 502
    assert response.headers["x-request-id"] in response.json()["error"]
    assert "/opt/secret" not in response.text


def test_an_ollama_400_is_passed_on(running_gateway: RunningGateway, fake: FakeUpstream,
                                    owner: Owner, database: Database) -> None:
    add_deployment(database, owner, "chat", "fake:1b", [fake.instance("http400")],
                   runtime="ollama")
    response = httpx.post(f"{running_gateway.base_url}/ollama/chat/api/generate",
                          json={"model": "fake:1b", "prompt": "x"},
                          headers={"Authorization": f"Bearer {owner.key}"})
    assert response.status_code == 400 and "error" in response.json()


def test_models_lists_the_keys_ollama_deployments_only(
        running_gateway: RunningGateway, fake: FakeUpstream, owner: Owner,
        database: Database) -> None:
    # GET /models is the ollama.<domain> host's model list (the chart routes it here).
    add_deployment(database, owner, "chat", "fake:1b", [fake.instance("a")], runtime="ollama")
    add_deployment(database, owner, "gguf", "local/tiny", [fake.instance("g")])
    eve = make_owner(database, "eve@example.com")
    add_deployment(database, eve, "evechat", "fake:1b", [fake.instance("e")], runtime="ollama")
    url = f"{running_gateway.base_url}/models"
    auth = {"Authorization": f"Bearer {owner.key}"}
    listed = httpx.get(url, headers=auth)
    assert listed.status_code == 200
    assert listed.json() == {"models": [
        {"name": "chat", "model": "fake:1b", "path": "/ollama/chat"}]}
    assert httpx.get(url).status_code == 401
    refused = httpx.post(url, headers=auth)
    assert refused.status_code == 405 and "error" in refused.json()
    assert httpx.get(f"{url}/chat", headers=auth).status_code == 404
    assert not fake.hits
