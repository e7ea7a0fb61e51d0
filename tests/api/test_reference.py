"""The OpenAPI document describes the token API and the Ollama passthrough from the gateway's
own validation schemas, and ``/api/docs`` is served from packaged files."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from flowllama.api.reference import ASSETS, merge_gateway
from flowllama.gateway.schema import SCHEMAS


def _document(client: TestClient) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def test_token_api_and_passthrough_are_in_the_document(client: TestClient) -> None:
    document = _document(client)
    paths = document["paths"]
    for path in ("/v1/models", "/v1/chat/completions", "/v1/completions", "/v1/embeddings",
                 "/v1/health", "/ollama/{deployment}/api/chat", "/ollama/{deployment}/api/tags"):
        assert path in paths, path
    assert "/api/deployments" in paths  # FastAPI's own routes are still there
    chat = paths["/v1/chat/completions"]["post"]
    body = chat["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ChatBody"}
    assert set(chat["responses"]) >= {"200", "400", "401", "429", "503"}
    assert "post" not in paths["/ollama/{deployment}/api/tags"]


def test_bodies_are_the_gateways_validation_schemas(client: TestClient) -> None:
    schemas = _document(client)["components"]["schemas"]
    chat = schemas["ChatBody"]
    expected = TypeAdapter.json_schema(SCHEMAS["messages"],
                                       ref_template="#/components/schemas/{model}")
    assert chat["properties"].keys() == expected["properties"].keys()
    assert chat.get("additionalProperties") is False  # unknown fields are refused
    assert "grammar" not in chat["properties"]
    assert "messages" in chat["required"] and "model" in chat["required"]
    for ref in _refs(_document(client)):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return found + [ref for item in value.values() for ref in _refs(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _refs(item)]
    return []


def test_merge_is_idempotent_on_fresh_documents() -> None:
    first = merge_gateway({"openapi": "3.1.0", "paths": {}})
    second = merge_gateway({"openapi": "3.1.0", "paths": {}})
    assert first == second


def test_docs_page_and_assets_are_local(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert "/api/docs/assets/swagger-ui-bundle.js" in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from another origin
    assert "<script>" not in page.text  # no inline script: the page keeps the strict CSP
    bundle = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.content) > 1_000_000
    assert (ASSETS / "LICENSE").is_file() and (ASSETS / "NOTICE").is_file()
