"""Browser security headers on every control-plane response (the web UI's pages included).

The pages load only same-origin module scripts and stylesheets, so the content security
policy allows nothing else: no inline script or style, no framing (clickjacking), no plugins,
forms only to this origin. ``/api/docs`` (Swagger UI, when enabled) is packaged and started
from a file (``api/reference.py``), so it lives under the same policy. HSTS is sent only over
HTTPS: TLS at uvicorn, or ``X-Forwarded-Proto: https`` from a trusted proxy (both set the ASGI
scope's ``scheme``).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       b"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
HSTS = b"max-age=31536000; includeSubDomains"
_ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeadersMiddleware:
    """Adds the headers above to each ``http.response.start``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [*_ALWAYS, (b"content-security-policy", CSP)]
        if scope.get("scheme") == "https":
            extra.append((b"strict-transport-security", HSTS))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
