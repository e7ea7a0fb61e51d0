"""The UI routes (``web/pages.py``) and the static files themselves: every page and asset is
served, the API keeps its own 404s, and nothing is loaded from outside the site."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from flowllama.web.pages import STATIC_DIR

PAGES = ["index", "signup", "login", "reset", "app"]
STATIC_FILES = sorted(p for p in STATIC_DIR.rglob("*") if p.is_file())
JS_FILES = [p for p in STATIC_FILES if p.suffix == ".js"]
IMPORT = re.compile(r"""^\s*import\s+(?:[\w*{}\s,]+\s+from\s+)?["']([^"']+)["']""", re.M)
LOCAL_REF = re.compile(r"""(?:src|href)="([^"#][^"]*)\"""")


def test_root_is_the_landing_page(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert "Sign up" in response.text
    assert response.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("name", PAGES)
def test_every_page_is_served(client: TestClient, name: str) -> None:
    response = client.get(f"/{name}.html")
    assert response.status_code == 200
    assert '<main id="main"' in response.text


@pytest.mark.parametrize("path", ["/nope.html", "/Index.html", "/..%2Fpages.html", "/a_b.html"])
def test_unknown_pages_are_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_assets_are_served_with_their_types(client: TestClient) -> None:
    script = client.get("/assets/js/app.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert "text/css" in client.get("/assets/styles.css").headers["content-type"]
    assert client.get("/assets/js/nope.js").status_code == 404


def test_api_paths_keep_their_own_answers(client: TestClient) -> None:
    assert client.get("/api/nope").status_code == 404
    assert client.get("/api/deployments").status_code == 401


def test_the_served_config_points_at_the_same_origin() -> None:
    assert 'apiUrl: ""' in (STATIC_DIR / "assets" / "config.js").read_text()


@pytest.mark.parametrize("path", JS_FILES, ids=lambda p: str(p.relative_to(STATIC_DIR)))
def test_every_module_import_resolves_to_a_shipped_file(path: Path) -> None:
    imports = IMPORT.findall(path.read_text())
    for target in imports:
        assert target.startswith("."), f"{path.name} imports {target} from outside the site"
        assert (path.parent / target).resolve().is_file(), f"{path.name}: {target} is missing"


@pytest.mark.parametrize("name", PAGES)
def test_pages_reference_only_files_of_the_site(name: str) -> None:
    html = (STATIC_DIR / f"{name}.html").read_text()
    for ref in LOCAL_REF.findall(html):
        if ref.startswith("data:"):
            continue
        assert "//" not in ref, f"{name}.html loads {ref} from elsewhere"
        assert (STATIC_DIR / ref.split("?")[0]).is_file(), f"{name}.html: {ref} is missing"


def test_nothing_is_fetched_from_the_internet() -> None:
    offenders = [str(p.relative_to(STATIC_DIR)) for p in STATIC_FILES
                 if re.search(r"https?://(?!www\.w3\.org/2000/svg)", p.read_text())]
    assert offenders == []


def test_modules_stay_small() -> None:
    too_long = [p.name for p in JS_FILES if len(p.read_text().splitlines()) > 200]
    assert too_long == []
