"""One error body everywhere; no stack traces; never a 500 for bad input."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError, OperationalError

from flowllama.api.app import create_app
from flowllama.platform import Platform


def test_unknown_route_is_json_404(client: TestClient) -> None:
    for path in ("/api/nope", "/nope/at/all"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json() == {"error": {"code": "not_found", "message": "Not found"}}
    # /v1 belongs to the token gateway, which answers in OpenAI's error envelope.
    response = client.get("/v1/whatever")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_wrong_method_is_json_405(client: TestClient) -> None:
    response = client.get("/api/auth/login")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_unexpected_error_is_500_without_trace(platform: Platform) -> None:
    app = create_app(platform)

    @app.get("/api/explode")
    def explode() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/explode", headers={"X-Request-ID": "req-123"})
    assert response.status_code == 500
    body = response.json()
    assert body == {"error": {"code": "internal_error", "message": "Internal server error",
                              "request_id": "req-123"}}
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text


def test_wrong_content_type_is_422(client: TestClient) -> None:
    response = client.post("/api/auth/login", content=b"email=a", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 422


def test_database_outage_is_503_with_retry_after_and_other_database_errors_500(
        platform: Platform) -> None:
    app = create_app(platform)

    class DriverError(Exception):
        pass

    @app.get("/api/outage")
    def outage() -> None:
        raise OperationalError("SELECT 1", {}, DriverError("server closed the connection"))

    @app.get("/api/constraint")
    def constraint() -> None:
        raise IntegrityError("INSERT", {}, DriverError("duplicate key"))

    with TestClient(app, raise_server_exceptions=False) as client:
        down = client.get("/api/outage")
        broken = client.get("/api/constraint")
    assert down.status_code == 503 and down.headers["Retry-After"] == "5"
    assert down.json()["error"]["code"] == "database_unavailable"
    assert broken.status_code == 500 and broken.json()["error"]["code"] == "internal_error"
