"""Write the web UI to a directory for any static host, pointed at a given API.

The pages are plain files; only ``assets/config.js`` differs from what ``flowllama up`` serves:
it names the REST API's base URL and the token API's (``--gateway-url``, default the API's).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import urlsplit

from flowllama.errors import InvalidInput
from flowllama.web.pages import STATIC_DIR

CONFIG_FILE = Path("assets") / "config.js"


def check_base_url(url: str, field: str) -> str:
    """``url`` without a trailing slash, if it is an absolute http(s) URL with no query."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise InvalidInput(f"{field} must be an absolute http(s) URL such as "
                           f"https://api.example.com, not {url!r}", field=field)
    return url.strip().rstrip("/")


def config_js(api_url: str, gateway_url: str | None = None) -> str:
    """The ``assets/config.js`` module for these base URLs (JSON-encoded, never templated)."""
    config = {"apiUrl": api_url, "gatewayUrl": gateway_url or api_url}
    return ("// Written by `flowllama web export`: where this copy of the UI finds the API.\n"
            f"export const config = {json.dumps(config)};\n")


def export_site(target: Path, api_url: str, gateway_url: str | None = None) -> list[Path]:
    """Copy every UI file under ``target`` (created if needed; files there are overwritten)
    and write its ``config.js``. Returns the written files, relative to ``target``."""
    api = check_base_url(api_url, "api_url")
    gateway = check_base_url(gateway_url, "gateway_url") if gateway_url else None
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(STATIC_DIR, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", ".*"))
    (target / CONFIG_FILE).write_text(config_js(api, gateway), encoding="utf-8")
    return sorted(path.relative_to(target) for path in target.rglob("*") if path.is_file())
