"""Browser security headers on the web pages and the API; HSTS only over HTTPS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from flowllama.api.app import create_app
from flowllama.db.session import Database
from flowllama.platform import build_platform
from flowllama.server import ALL_ROLES
from flowllama.settings import Settings


@pytest.mark.parametrize("path", ["/", "/login.html", "/app.html", "/api/models", "/health"])
def test_pages_and_api_carry_the_headers(client: TestClient, path: str) -> None:
    headers = client.get(path).headers
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in headers  # plain HTTP


def test_pages_have_no_inline_script_or_style(client: TestClient) -> None:
    for page in ("/", "/login.html", "/signup.html", "/reset.html", "/app.html"):
        html = client.get(page).text
        assert " style=" not in html and "<style" not in html, page
        assert "<script>" not in html and "onclick=" not in html, page


@pytest.fixture
def behind_tls_proxy(settings: Settings, database: Database) -> Iterator[TestClient]:
    trusting = settings.model_copy(update={"http": settings.http.model_copy(
        update={"trusted_proxies": ["10.0.0.0/8"]})})
    app = create_app(build_platform(trusting, db=database), ALL_ROLES)
    with TestClient(app, client=("10.0.0.5", 40000)) as test_client:
        yield test_client


def test_hsts_over_https_from_a_trusted_proxy(behind_tls_proxy: TestClient) -> None:
    https = behind_tls_proxy.get("/health", headers={"X-Forwarded-Proto": "https"})
    assert https.headers["strict-transport-security"].startswith("max-age=")
    plain = behind_tls_proxy.get("/health")
    assert "strict-transport-security" not in plain.headers


def test_an_untrusted_peer_cannot_claim_https(client: TestClient) -> None:
    response = client.get("/health", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in response.headers
