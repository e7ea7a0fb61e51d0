"""The API reference: ``/api/docs`` (Swagger UI from packaged files, no CDN) and an OpenAPI
document that also describes the token API (``/v1``) and the Ollama passthrough (``/ollama``).

Those two are raw ASGI apps beside FastAPI (docs/gateway.md: FastAPI's request handling would
cost the hot path), so FastAPI cannot see them. Their operations are merged into the document
here instead, with request bodies generated from the very adapters the gateway validates with
(``gateway.schema.SCHEMAS`` via ``endpoints.FORWARDED``, ``gateway.native_schema``): the
reference cannot drift from what the gateway accepts, and nothing moves off the fast path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from flowllama.gateway.endpoints import FORWARDED
from flowllama.gateway.native_schema import NATIVE_SCHEMAS
from flowllama.gateway.ollama import INFERENCE_ROUTES, READ_ROUTES
from flowllama.gateway.schema import SCHEMAS

ASSETS = Path(__file__).resolve().parent / "docs_assets"
DOCS_PATH = "/api/docs"
OPENAPI_PATH = "/api/openapi.json"
REF = "#/components/schemas/{model}"
KEY_SCHEME = "GatewayApiKey"
API_TAG = "token API (/v1)"
OLLAMA_TAG = "Ollama passthrough (/ollama)"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>FlowLlama API reference</title>
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css"></head>
<body><div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/start.js"></script></body></html>
"""

_SUMMARIES = {
    "/v1/chat/completions": "Chat completion (OpenAI-compatible; stream with SSE)",
    "/v1/completions": "Text completion (OpenAI-compatible; stream with SSE)",
    "/v1/embeddings": "Embeddings (runtimes that serve them: Ollama)",
}
_ERRORS = {
    "400": "Invalid body: invalid_json, unknown_parameter, missing_required, invalid_value",
    "401": "invalid_api_key: missing, unknown, revoked or expired key",
    "404": "model_not_found: no deployment or model of that name for this key's owner",
    "413": "payload_too_large",
    "429": "rate_limit_exceeded or insufficient_quota (with Retry-After)",
    "502": "upstream_error: the model server failed",
    "503": "no_healthy_instance or circuit_open (with Retry-After)",
    "504": "upstream_timeout",
}


def install_reference(app: FastAPI) -> None:
    """Serve ``/api/docs`` from the packaged Swagger UI and extend ``app.openapi()``."""
    app.mount(f"{DOCS_PATH}/assets", StaticFiles(directory=ASSETS), name="docs-assets")
    page = _PAGE.format(assets=f"{DOCS_PATH}/assets", openapi=OPENAPI_PATH)

    @app.get(DOCS_PATH, include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes,
                                   description="FlowLlama's control-plane REST API, token API "
                                   "(/v1) and Ollama passthrough (/ollama).")
            app.openapi_schema = merge_gateway(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def merge_gateway(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` plus the ``/v1`` and ``/ollama`` operations and their body schemas."""
    inputs: list[tuple[str, JsonSchemaMode, TypeAdapter[Any]]] = [
        *((path, "validation", SCHEMAS[forwarded.required])
          for path, forwarded in FORWARDED.items()),
        *((f"ollama:{route}", "validation", adapter) for route, adapter in NATIVE_SCHEMAS.items()),
    ]
    schemas, definitions = TypeAdapter.json_schemas(inputs, ref_template=REF)
    bodies = {key: schema for (key, _mode), schema in schemas.items()}
    components = document.setdefault("components", {})
    components.setdefault("schemas", {}).update(definitions.get("$defs", {}))
    components["schemas"]["OpenAIError"] = _error_schema()
    components.setdefault("securitySchemes", {})[KEY_SCHEME] = {
        "type": "http", "scheme": "bearer",
        "description": "An API key (fl-...) from POST /api/keys, as Authorization: Bearer"}
    paths = document.setdefault("paths", {})
    paths.update(_token_paths(bodies))
    paths.update(_ollama_paths(bodies))
    document.setdefault("tags", []).extend([
        {"name": API_TAG, "description": "OpenAI-compatible API in front of your running "
         "deployments (the `model` is a deployment name). Use the official openai client."},
        {"name": OLLAMA_TAG, "description": "The native Ollama API of one Ollama deployment; "
         "the body's `model` is replaced by the deployment's."},
    ])
    return document


def _token_paths(bodies: dict[str, Any]) -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/v1/health": {"get": {
            "tags": [API_TAG], "summary": "Gateway liveness (no key)",
            "operationId": "v1_health",
            "responses": {"200": _json_response("The gateway is up", {"type": "object"})}}},
        "/v1/models": {"get": {
            "tags": [API_TAG], "summary": "The key owner's serving deployments and models",
            "operationId": "v1_models", "security": [{KEY_SCHEME: []}],
            "responses": {"200": _json_response("OpenAI list of models", {"type": "object"}),
                          **_error_responses("401")}}},
    }
    for path in FORWARDED:
        paths[path] = {"post": {
            "tags": [API_TAG], "summary": _SUMMARIES.get(path, path),
            "operationId": "v1_" + path.removeprefix("/v1/").replace("/", "_"),
            "security": [{KEY_SCHEME: []}],
            "description": "Fields outside this schema are refused (400 unknown_parameter); "
                           "the body is forwarded as sent.",
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": bodies[path]}}},
            "responses": {
                "200": {"description": "The runtime's OpenAI-shaped answer; with "
                        "`stream: true` a text/event-stream of chunks ending in [DONE]",
                        "content": {"application/json": {"schema": {"type": "object"}},
                                    "text/event-stream": {"schema": {"type": "string"}}}},
                **_error_responses(*_ERRORS)}}}
    return paths


def _ollama_paths(bodies: dict[str, Any]) -> dict[str, Any]:
    deployment = {"name": "deployment", "in": "path", "required": True,
                  "schema": {"type": "string"}, "description": "Your deployment's name"}
    paths: dict[str, Any] = {}
    for method, route in sorted(READ_ROUTES | INFERENCE_ROUTES):
        operation: dict[str, Any] = {
            "tags": [OLLAMA_TAG], "summary": f"Ollama {method} /api/{route}",
            "operationId": f"ollama_{route}", "security": [{KEY_SCHEME: []}],
            "parameters": [deployment],
            "responses": {
                "200": {"description": "Ollama's answer (NDJSON stream for streamed chat "
                        "and generate)",
                        "content": {"application/json": {"schema": {"type": "object"}},
                                    "application/x-ndjson": {"schema": {"type": "string"}}}},
                "401": {"description": "Missing or invalid API key"},
                "404": {"description": "No such deployment for this key's owner, or a route "
                        "FlowLlama does not pass on (pull, push, create, delete, ...)"},
            }}
        if method == "POST":
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": bodies[f"ollama:{route}"]}}}
        paths.setdefault(f"/ollama/{{deployment}}/api/{route}", {})[method.lower()] = operation
    return paths


def _json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error_responses(*codes: str) -> dict[str, Any]:
    ref = {"$ref": REF.format(model="OpenAIError")}
    return {code: _json_response(_ERRORS[code], ref) for code in codes}


def _error_schema() -> dict[str, Any]:
    return {"type": "object", "title": "OpenAIError", "required": ["error"], "properties": {
        "error": {"type": "object", "required": ["message", "type"], "properties": {
            "message": {"type": "string"}, "type": {"type": "string"},
            "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]}}}}}
