"""Turning what a user types (a name, an id, an email, a key prefix) into the object's id."""

from __future__ import annotations

from typing import Any

from flowllama.client.api import ApiClient, ApiError


def deployment(client: ApiClient, ref: str) -> dict[str, Any]:
    """The caller's deployment named ``ref``, or with id ``ref``."""
    items = client.list_all("/api/deployments")
    for wanted in ("name", "id"):
        found = [item for item in items if item[wanted] == ref]
        if found:
            return found[0]
    raise ApiError(404, "not_found", f"No deployment named or with id {ref!r}", "deployment")


def api_key(client: ApiClient, ref: str) -> dict[str, Any]:
    """The caller's live API key with id ``ref``, else the one named ``ref``, else the one
    whose shown prefix is ``ref``; a name or prefix two keys share is refused."""
    keys: list[dict[str, Any]] = client.get("/api/keys")
    for wanted in ("id", "name", "prefix"):
        found = [key for key in keys if key[wanted] == ref]
        if len(found) > 1:
            raise ApiError(409, "ambiguous", f"{len(found)} keys have the {wanted} {ref!r}; "
                           "give the key's id (flowllama keys ls)", "key")
        if found:
            return found[0]
    raise ApiError(404, "not_found", f"No API key with id, name or prefix {ref!r}", "key")


def user(client: ApiClient, ref: str) -> dict[str, Any]:
    """A user (admin view) by email or id."""
    page = client.get("/api/admin/users", email=ref) if "@" in ref else None
    if page and page["items"]:
        found: dict[str, Any] = page["items"][0]
        return found
    if "@" not in ref:
        return dict(client.get(f"/api/admin/users/{ref}"))
    raise ApiError(404, "not_found", f"No user with email {ref!r}", "user")
