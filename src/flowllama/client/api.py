"""The CLI's side of the REST API: an httpx client that signs requests with the stored login,
refreshes the access token when it has expired (or the server says it no longer is valid), and
turns every error body ``{"error": {"code", "message", "field"}}`` into an :class:`ApiError`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import httpx

from flowllama.client.credentials import CredentialStore, Login, normalise_url

URL_ENV = "FLOWLLAMA_URL"
DEFAULT_TIMEOUT_S = 30.0
PAGE = 200  # the API's largest page of deployments


class ApiError(Exception):
    """What the API (or the road to it) said went wrong."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        if self.status:
            error["status"] = self.status
        return {"error": error}


def error_from(response: httpx.Response) -> ApiError:
    """The :class:`ApiError` of a failed response, whatever its body."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return ApiError(response.status_code, str(error.get("code") or "error"),
                        error["message"], error.get("field"))
    text = response.text.strip()[:200] or response.reason_phrase
    return ApiError(response.status_code, f"http_{response.status_code}", text)


def default_http(base_url: str) -> httpx.Client:
    """The HTTP client for ``base_url`` (tests replace this with one bound to an app)."""
    return httpx.Client(base_url=base_url, timeout=DEFAULT_TIMEOUT_S)


# Tests point this at an in-process app; everything else talks over the network.
make_http: Callable[[str], httpx.Client] = default_http


def resolve_url(explicit: str | None, store: CredentialStore) -> str:
    """The server to talk to: ``--url``, else ``$FLOWLLAMA_URL``, else the current login's."""
    url = explicit or os.environ.get(URL_ENV) or store.current_url()
    if not url:
        raise ApiError(0, "no_server", "No FlowLlama server given: pass --url, set "
                       f"{URL_ENV}, or run `flowllama login --url URL` first", "url")
    if not url.startswith(("http://", "https://")):
        raise ApiError(0, "invalid_url", f"{url!r} is not an http(s) URL", "url")
    return normalise_url(url)


class ApiClient:
    """Requests to one FlowLlama server, as its stored login (if any)."""

    def __init__(self, url: str, store: CredentialStore, http: httpx.Client | None = None) -> None:
        self.url = normalise_url(url)
        self.store = store
        self.login = store.get(self.url)
        self.http = http or make_http(self.url)

    def close(self) -> None:
        self.http.close()

    # -- requests ---------------------------------------------------------------------------

    def request(self, method: str, path: str, *, json: Any = None,
                params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
                auth: bool = True) -> Any:
        """Send one request; the decoded JSON answer (None for 204), or :class:`ApiError`."""
        response = self._send(method, path, json=json, params=params, headers=headers,
                              auth=auth)
        if auth and response.status_code == 401 and self.login and self.login.refresh_token:
            self._refresh(self.login, force=True)  # revoked or server-side expiry: once more
            response = self._send(method, path, json=json, params=params,
                                  headers=headers, auth=auth)
        if response.status_code >= 400:
            raise error_from(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(response.status_code, "bad_response",
                           f"{self.url}{path} did not answer JSON; is this a FlowLlama API?"
                           ) from exc

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items()
                                                 if v is not None})

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.request("PATCH", path, json=json, **kwargs)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def list_all(self, path: str, key: str = "items") -> list[dict[str, Any]]:
        """Every item of a paged list (``{"items", "total"}`` with ``limit``/``offset``)."""
        items: list[dict[str, Any]] = []
        while True:
            page = self.get(path, limit=PAGE, offset=len(items))
            items.extend(page[key])
            if not page[key] or len(items) >= int(page.get("total", len(items))):
                return items

    def _send(self, method: str, path: str, *, json: Any, params: dict[str, Any] | None,
              headers: dict[str, str] | None, auth: bool) -> httpx.Response:
        merged = dict(headers or {})
        if auth:
            merged["Authorization"] = f"Bearer {self.access_token()}"
        try:
            return self.http.request(method, path, json=json, params=params, headers=merged)
        except httpx.TransportError as exc:
            raise ApiError(0, "unreachable", f"Cannot reach FlowLlama at {self.url}: {exc}",
                           "url") from exc

    # -- tokens -----------------------------------------------------------------------------

    def access_token(self) -> str:
        """A valid access token, refreshed first when it has expired."""
        if self.login is None:
            raise ApiError(401, "not_logged_in",
                           f"Not logged in to {self.url}: run `flowllama login --url {self.url}`")
        if self.login.expired():
            self._refresh(self.login)
        return self.login.access_token

    def _refresh(self, stale: Login, *, force: bool = False) -> None:
        with self.store.locked():
            latest = self.store.get(self.url)
            # Another CLI process refreshed meanwhile: use its tokens, spend nothing.
            if latest and latest.access_token != stale.access_token and not latest.expired():
                self.login = latest
                return
            if not force and not stale.expired():
                return
            token = (latest or stale).refresh_token
            response = None
            if token:
                try:
                    response = self.http.post("/api/auth/refresh",
                                              json={"refresh_token": token})
                except httpx.TransportError as exc:
                    raise ApiError(0, "unreachable",
                                   f"Cannot reach FlowLlama at {self.url}: {exc}", "url") from exc
            if response is None or response.status_code != 200:
                self.login = None
                raise ApiError(401, "login_expired", f"Your login to {self.url} has expired or "
                               f"was revoked: run `flowllama login --url {self.url}`")
            self.login = login_from_tokens(self.url, stale.email, response.json())
            self.store.save(self.login, make_current=False)


def login_from_tokens(url: str, email: str, tokens: dict[str, Any]) -> Login:
    """A :class:`Login` from the API's token pair (``access_token``, ``refresh_token``,
    ``expires_in`` seconds)."""
    return Login(url=normalise_url(url), email=email, access_token=tokens["access_token"],
                 refresh_token=tokens.get("refresh_token"),
                 expires_at=time.time() + float(tokens.get("expires_in", 0)))
