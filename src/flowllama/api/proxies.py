"""Whose ``X-Forwarded-For``/``X-Forwarded-Proto`` count: only the configured proxies'.

Behind an ingress every connection comes from the proxy, so without this the throttles would
see one client; but a header from anyone else is the client's own claim and must be ignored,
or a client could pick its address (and escape per-address throttles) at will. uvicorn's own
handling is switched off in ``server.py`` (it trusts 127.0.0.1 by default); this middleware
does it for every app, under uvicorn and in tests alike, and only for
``settings.http.trusted_proxies`` (none by default).
"""

from __future__ import annotations

from typing import Any

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


def trusted_proxy_middleware(trusted: list[str]) -> list[tuple[Any, dict[str, Any]]]:
    """The middleware entry that rewrites the scope's client and scheme from the forwarded
    headers of ``trusted`` peers (addresses or CIDR ranges); none when nothing is trusted."""
    if not trusted:
        return []
    return [(ProxyHeadersMiddleware, {"trusted_hosts": list(trusted)})]
