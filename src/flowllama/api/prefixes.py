"""Send requests under a path prefix straight to a plain ASGI app, past the framework's routing.

The token gateway's ``/v1`` and ``/ollama`` are such apps: they sit inside the request-id,
access-log and metrics middleware like every route, but skip FastAPI's routing, dependency
solving and exception middleware, which would cost more than the gateway's own work.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send


class PrefixDispatcher:
    """``prefix`` → app for HTTP requests whose path is the prefix or lies under it."""

    def __init__(self, app: ASGIApp, prefixes: Sequence[tuple[str, ASGIApp]]) -> None:
        self.app = app
        self.prefixes = [(prefix.rstrip("/"), target) for prefix, target in prefixes]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            for prefix, target in self.prefixes:
                if path.startswith(prefix) and path[len(prefix):len(prefix) + 1] in ("", "/"):
                    await target(scope, receive, send)
                    return
        await self.app(scope, receive, send)
