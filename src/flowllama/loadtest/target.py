"""A deployment as a load-test target, resolved through the FlowLlama API.

``--deployment NAME`` logs in with the test account, finds the deployment by name, and takes
from its view (``GET /api/deployments/{id}``): the token API base (``endpoint_url``), the model
name (``endpoint_model``), the Ollama passthrough (``<api>/ollama/<name>``, only for an Ollama
runtime) and the billed $/h of its live placement. Options given explicitly win.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx

from flowllama.errors import InvalidInput, NotFound
from flowllama.loadtest.config import LoadtestConfig

PAGE = 100
MAX_PAGES = 50


def resolve_deployment(config: LoadtestConfig, name: str, *, timeout_s: float = 30
                       ) -> LoadtestConfig:
    """``config`` completed from deployment ``name``'s view; needs api_url, email, password."""
    if not (config.api_url and config.email and config.password):
        raise InvalidInput("--deployment needs --api-url, --email and a password "
                           "(--password or FLOWLLAMA_LOADTEST_PASSWORD)", field="deployment")
    try:
        with httpx.Client(base_url=config.api_url.rstrip("/"), timeout=timeout_s) as http:
            login = http.post("/api/auth/login",
                              json={"email": config.email, "password": config.password})
            if login.status_code != 200:
                raise InvalidInput(f"login as {config.email} failed: HTTP {login.status_code}",
                                   field="email")
            http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            view = _find(http, name)
    except httpx.HTTPError as exc:
        raise InvalidInput(f"cannot read deployment {name!r} from {config.api_url}: {exc}",
                           field="api_url") from exc
    return _completed(config, view)


def _find(http: httpx.Client, name: str) -> dict[str, Any]:
    for page in range(MAX_PAGES):
        response = http.get("/api/deployments", params={"limit": PAGE, "offset": page * PAGE})
        response.raise_for_status()
        body = response.json()
        for item in body["items"]:
            if item["name"] == name:
                found: dict[str, Any] = item
                return found
        if (page + 1) * PAGE >= body["total"]:
            break
    raise NotFound(f"no deployment named {name!r} for this account", code="deployment")


def _completed(config: LoadtestConfig, view: dict[str, Any]) -> LoadtestConfig:
    api = (config.api_url or "").rstrip("/")
    ollama = f"{api}/ollama/{view['name']}" if view.get("runtime") == "ollama" else None
    price, source = config.price_per_hour, config.price_source
    if price is None:
        price, source = placement_price(view.get("placement"))
    return replace(
        config, target_name=config.target_name or view["name"],
        token_api_url=config.token_api_url or view.get("endpoint_url"),
        model=config.model or view.get("endpoint_model"),
        ollama_url=config.ollama_url or ollama, price_per_hour=price, price_source=source)


def placement_price(placement: dict[str, Any] | None) -> tuple[float | None, str]:
    """The billed $/h of a deployment's live placement and a sentence saying where it is."""
    if not placement or placement.get("price_per_hour") is None:
        return None, "unknown: the deployment has no billed placement now"
    where = "/".join(str(placement[k]) for k in ("cloud", "region", "instance_type")
                     if placement.get(k))
    spot = ", spot" if placement.get("spot") else ""
    return float(placement["price_per_hour"]), f"deployment placement billed $/h ({where}{spot})"
