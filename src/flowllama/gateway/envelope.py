"""OpenAI's error envelope, ``{"error": {"message", "type", "param", "code"}}``, for ``/v1``.

The gateway's sub-application registers these handlers instead of the control plane's, so the
official clients raise their usual exceptions (``AuthenticationError``, ``NotFoundError``...).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from flowllama.api.errors import field_name
from flowllama.errors import ClientError
from flowllama.logging import get_logger

log = get_logger(__name__)

_TYPES = {401: "invalid_request_error", 403: "invalid_request_error",
          404: "invalid_request_error", 413: "invalid_request_error",
          422: "invalid_request_error", 429: "rate_limit_error"}


def error_type(status_code: int, code: str | None = None) -> str:
    """OpenAI's ``type`` for a status: client errors are ``invalid_request_error``."""
    if code == "insufficient_quota":  # OpenAI's own spelling for a used-up budget
        return code
    if status_code >= 500:
        return "server_error"
    return _TYPES.get(status_code, "invalid_request_error")


def envelope(status_code: int, message: str, code: str | None, param: str | None = None
             ) -> dict[str, Any]:
    """The body of an error answer."""
    return {"error": {"message": message, "type": error_type(status_code, code),
                      "param": param, "code": code}}


def error_response(status_code: int, message: str, code: str | None,
                   param: str | None = None, headers: dict[str, str] | None = None
                   ) -> JSONResponse:
    return JSONResponse(envelope(status_code, message, code, param), status_code=status_code,
                        headers=headers)


async def _client_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ClientError)
    return error_response(exc.status_code, exc.message, exc.code, exc.field, exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first: dict[str, Any] = next(iter(exc.errors()), {})
    return error_response(422, str(first.get("msg", "Invalid request")), "invalid_input",
                          field_name(first.get("loc", ())))


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = "Unknown endpoint" if exc.status_code == 404 else str(exc.detail)
    code = "unknown_url" if exc.status_code == 404 else None
    return error_response(exc.status_code, message, code,
                          headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("gateway.unhandled_error", error_type=type(exc).__name__, exc_info=exc)
    request_id = request.scope.get("state", {}).get("request_id")
    return error_response(500, f"Internal error (request id {request_id})", "internal_error")


def install_envelope_handlers(app: FastAPI) -> None:
    """Answer every error raised inside ``app`` in OpenAI's envelope."""
    app.add_exception_handler(ClientError, _client_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
