"""Build the ASGI app for a set of roles on top of one :class:`~flowllama.platform.Platform`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from flowllama import __version__
from flowllama.api.body_limit import BodyLimitMiddleware
from flowllama.api.errors import install_error_handlers
from flowllama.api.middleware import RequestContextMiddleware
from flowllama.api.prefixes import PrefixedFastAPI
from flowllama.api.proxies import trusted_proxy_middleware
from flowllama.api.reference import OPENAPI_PATH, install_reference
from flowllama.api.routers import (
    admin,
    auth,
    budgets,
    deployments,
    health,
    keys,
    loadtests,
    metrics,
    models,
    pricing,
    recommendations,
    usage,
    webhooks,
)
from flowllama.api.security_headers import SecurityHeadersMiddleware
from flowllama.gateway import build_gateway
from flowllama.gateway.endpoints import OpenAIEndpoints
from flowllama.gateway.ollama import OllamaModels, OllamaPassthrough
from flowllama.loadtest.dashboard.app import mount_dashboard
from flowllama.metrics.exposition import build_registry
from flowllama.platform import Platform
from flowllama.services.accounts_worker import AccountsWorker, ResetLinks
from flowllama.settings import Settings
from flowllama.web.pages import mount_web


def create_app(platform: Platform, roles: Sequence[str] = ("api",)) -> FastAPI:
    """The app for ``roles``; ``flowllama up`` passes every role, ``serve api`` just ``api``."""

    gateway = build_gateway(platform) if "gateway" in roles else None
    settings = platform.settings
    links = ResetLinks(platform.auth.reset_ttl_s, settings.effective_public_url)
    accounts = (AccountsWorker(platform.db, platform.mailer, links,
                               interval_s=settings.mail.outbox_poll_s,
                               keep_counters_s=platform.auth.longest_window_s,
                               loops=platform.loops)
                if "api" in roles else None)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if gateway is not None:
            await gateway.start()
        if accounts is not None:
            accounts.start()
        try:
            yield
        finally:
            if accounts is not None:
                await accounts.stop()
            if gateway is not None:
                await gateway.stop()
            platform.close()

    docs = settings.docs_public
    app = PrefixedFastAPI(
        title="FlowLlama", version=__version__, lifespan=lifespan, docs_url=None,
        openapi_url=OPENAPI_PATH if docs else None, redoc_url=None,
    )
    if docs:
        install_reference(app)
    app.state.platform = platform
    app.state.roles = list(roles)
    app.state.gateway = gateway
    app.state.metrics_registry = build_registry(platform.db, platform.queue)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    include_pages(app, settings, roles)
    # The pages' headers, inside the stack (it sees the scheme a trusted proxy reported);
    # not around the gateway's hot path.
    app.add_middleware(SecurityHeadersMiddleware)
    stack = middleware(settings, settings.http.max_body_bytes)
    for cls, options in reversed(stack):  # added last = outermost
        app.add_middleware(cls, **options)
    if gateway is not None:  # the same middleware around the apps that skip FastAPI's layers
        # The gateway bounds body sizes itself (OpenAI-style errors); only the deadline here.
        gateway_stack = middleware(settings, None)
        app.serve_prefix("/v1", wrapped(OpenAIEndpoints(gateway), gateway_stack))
        app.serve_prefix("/ollama", wrapped(OllamaPassthrough(gateway), gateway_stack))
        # The ollama.<domain> host's model list (docs/kubernetes.md); its /health is ours.
        app.serve_prefix("/models", wrapped(OllamaModels(gateway), gateway_stack))
    return app


def include_pages(app: FastAPI, settings: Settings, roles: Sequence[str]) -> None:
    """The control plane's routers and web UI for ``api``; the operator's load-test
    dashboard over the whole store for ``dashboard`` without ``api`` (with it, each owner
    sees their own runs through the API instead)."""
    if "api" in roles:
        for router in (auth.router, models.router, pricing.router,
                       loadtests.router,  # before deployments' /{id}/{action}
                       recommendations.router,
                       deployments.router, keys.router, webhooks.router, usage.router,
                       budgets.router, admin.router):
            app.include_router(router)
        mount_web(app)
    elif "dashboard" in roles:
        mount_dashboard(app, settings.loadtest, settings.data_dir)


Middleware = list[tuple[Any, dict[str, Any]]]


def middleware(settings: Settings, max_body_bytes: int | None) -> Middleware:
    """Every request's middleware, outermost first: the client address from trusted proxies;
    request id, access log and metrics; CORS when the web UI is served from another origin;
    body size and receipt deadline."""
    stack: Middleware = trusted_proxy_middleware(settings.http.trusted_proxies)
    stack.append((RequestContextMiddleware, {}))
    if settings.web_origins:
        stack.append((CORSMiddleware, cors_options(settings.web_origins)))
    stack.append((BodyLimitMiddleware, {"max_bytes": max_body_bytes,
                                        "timeout_s": settings.http.body_timeout_s}))
    return stack


def wrapped(app: ASGIApp, stack: Middleware) -> ASGIApp:
    """``app`` inside ``stack`` (outermost first)."""
    for cls, options in reversed(stack):
        app = cls(app, **options)
    return app


def cors_options(origins: list[str]) -> dict[str, Any]:
    """CORS for the web UI when it is served from another origin."""
    return {"allow_origins": origins, "allow_methods": ["GET", "POST", "PUT", "PATCH", "DELETE"],
            "allow_headers": ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            "expose_headers": ["X-Request-ID", "Retry-After"]}

