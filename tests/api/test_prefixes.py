"""PrefixedFastAPI: a prefix and what lies under it go to its app, everything else to FastAPI."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi.testclient import TestClient

from flowllama.api.prefixes import PrefixedFastAPI


def _app(name: str, calls: list[str]) -> Any:
    async def app(scope: dict[str, Any], _receive: Any, send: Any) -> None:
        calls.append(f"{name}:{scope['path']}")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": name.encode()})

    return app


def test_prefix_paths_go_to_their_app_and_the_rest_to_fastapi() -> None:
    calls: list[str] = []
    app = PrefixedFastAPI()
    app.serve_prefix("/v1/", _app("v1", calls))
    app.serve_prefix("/ollama", _app("ollama", calls))

    @app.get("/{rest:path}")
    def fallback(rest: str) -> str:
        calls.append(f"fastapi:/{rest}")
        return rest

    with TestClient(app) as client:  # lifespan still reaches FastAPI
        for path in ("/v1", "/v1/models", "/v10/x", "/ollama/a/api/tags", "/ollamax"):
            assert client.get(path).status_code == 200
    assert calls == ["v1:/v1", "v1:/v1/models", "fastapi:/v10/x", "ollama:/ollama/a/api/tags",
                     "fastapi:/ollamax"]
    assert asyncio.iscoroutinefunction(app.__call__)
