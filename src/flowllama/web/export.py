"""Write the web UI to a directory for any static host, pointed at a given API.

The pages are the ones ``flowllama up`` serves, with two differences: ``assets/config.js`` names
the REST API's base URL and the token API's (``--gateway-url``, default the API's), and every
asset carries a content hash in its name (``web/hashing.py``) so a CDN may cache it forever.
``asset-manifest.json`` maps each source path to its hashed name; a later export into the same
directory removes the files the earlier one wrote, so no stale asset is published.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from flowllama.errors import InvalidInput
from flowllama.web.hashing import hash_site
from flowllama.web.pages import STATIC_DIR

CONFIG_FILE = Path("assets") / "config.js"
MANIFEST_FILE = "asset-manifest.json"


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


def export_site(target: Path, api_url: str, gateway_url: str | None = None, *,
                hashed: bool = True) -> list[Path]:
    """Write every UI file under ``target`` (created if needed) with its ``config.js``, assets
    under content-hashed names unless ``hashed`` is false. Files of an earlier export there
    are replaced. Returns the written files, relative to ``target``."""
    api = check_base_url(api_url, "api_url")
    gateway = check_base_url(gateway_url, "gateway_url") if gateway_url else None
    with tempfile.TemporaryDirectory(prefix="flowllama-export-") as staging:
        site = Path(staging)
        shutil.copytree(STATIC_DIR, site, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", ".*"))
        (site / CONFIG_FILE).write_text(config_js(api, gateway), encoding="utf-8")
        manifest = hash_site(site) if hashed else {}
        (site / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n",
                                          encoding="utf-8")
        target.mkdir(parents=True, exist_ok=True)
        _remove_previous_export(target)
        shutil.copytree(site, target, dirs_exist_ok=True)
        return sorted(path.relative_to(site) for path in site.rglob("*") if path.is_file())


def _remove_previous_export(target: Path) -> None:
    """Delete the hashed assets an earlier export wrote into ``target`` (its manifest says
    which); files not named there are not ours and stay."""
    manifest = target / MANIFEST_FILE
    if not manifest.is_file():
        return
    try:
        previous = json.loads(manifest.read_text(encoding="utf-8"))
    except ValueError:
        return
    for name in previous.values() if isinstance(previous, dict) else ():
        path = (target / str(name)).resolve()
        if path.is_relative_to(target.resolve()) and path.is_file():
            path.unlink()
