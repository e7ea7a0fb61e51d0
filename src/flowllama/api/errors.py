"""Turn every error into the one JSON error body: ``{"error": {"code", "message", "field"?}}``.

Registered once on the app, so routers never catch exceptions themselves. Unexpected errors
are logged with their traceback and answered with a bare 500 that carries the request id.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from flowllama.db.outage import DatabaseUnavailable, is_unavailable
from flowllama.errors import ClientError
from flowllama.logging import get_logger

log = get_logger(__name__)

_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 406: "not_acceptable", 413: "payload_too_large",
    415: "unsupported_media_type", 429: "rate_limited",
}
_LOCATION_PREFIXES = {"body", "query", "path", "header", "cookie"}


def error_body(code: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    error.update(extra)
    return {"error": error}


def field_name(loc: tuple[Any, ...] | list[Any]) -> str | None:
    """``("body", "email")`` → ``"email"``; ``("query", "limit")`` → ``"limit"``."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in _LOCATION_PREFIXES:
        parts = parts[1:]
    return ".".join(parts) or None


def _validation_message(error: dict[str, Any]) -> str:
    if error.get("type") == "json_invalid":
        return "Request body is not valid JSON"
    if error.get("type") == "missing":
        return "Field required"
    return str(error.get("msg", "Invalid value")).removeprefix("Value error, ")


async def _client_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ClientError)
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    details = [{"field": field_name(e.get("loc", ())), "message": _validation_message(e)}
               for e in errors]
    first = details[0] if details else {"field": None, "message": "Invalid request"}
    body = error_body("invalid_input", str(first["message"]), first["field"], details=details)
    return JSONResponse(body, status_code=422)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 404:
        message = "Not found"
    return JSONResponse(error_body(code, message), status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """A database outage is a 503 the client may retry; any other database error goes on to
    the server-error handler (a logged 500), as before."""
    if not is_unavailable(exc):
        raise exc
    log.warning("http.database_unavailable", error=f"{type(exc).__name__}: {exc}"[:300])
    return await _client_error(request, DatabaseUnavailable())


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = request.scope.get("state", {}).get("request_id")
    log.error("http.unhandled_error", error_type=type(exc).__name__, exc_info=exc)
    return JSONResponse(
        error_body("internal_error", "Internal server error", request_id=request_id),
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ClientError, _client_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # Handled below the server-error middleware, so an outage is an answer, not a crash.
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeout, _database_error)
    app.add_exception_handler(Exception, _unexpected)
