"""PrefixDispatcher: a prefix and what lies under it go to its app, everything else through."""

from __future__ import annotations

import asyncio
from typing import Any

from flowllama.api.prefixes import PrefixDispatcher


def _app(name: str, calls: list[str]) -> Any:
    async def app(scope: dict[str, Any], _receive: Any, _send: Any) -> None:
        calls.append(f"{name}:{scope['path']}")

    return app


def test_prefix_paths_go_to_their_app_and_the_rest_to_the_framework() -> None:
    calls: list[str] = []
    dispatcher = PrefixDispatcher(_app("api", calls), [("/v1/", _app("v1", calls)),
                                                       ("/ollama", _app("ollama", calls))])
    for path in ("/v1", "/v1/models", "/v10/x", "/ollama/a/api/tags", "/ollamax", "/api/me"):
        asyncio.run(dispatcher({"type": "http", "path": path}, None, None))
    asyncio.run(dispatcher({"type": "lifespan", "path": ""}, None, None))
    assert calls == ["v1:/v1", "v1:/v1/models", "api:/v10/x", "ollama:/ollama/a/api/tags",
                     "api:/ollamax", "api:/api/me", "api:"]
