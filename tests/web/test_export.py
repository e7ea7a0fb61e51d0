"""``web/export.py``: the exported site is the served one plus its own ``config.js``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowllama.errors import InvalidInput
from flowllama.web.export import MANIFEST_FILE, check_base_url, config_js, export_site
from flowllama.web.pages import STATIC_DIR


def test_unhashed_export_is_the_served_site_but_the_config(tmp_path: Path) -> None:
    written = export_site(tmp_path, "https://api.example.com", "https://llm.example.com/",
                          hashed=False)
    shipped = sorted(p.relative_to(STATIC_DIR) for p in STATIC_DIR.rglob("*") if p.is_file())
    assert written == sorted([*shipped, Path(MANIFEST_FILE)])
    for relative in shipped:
        if relative != Path("assets/config.js"):
            assert (tmp_path / relative).read_bytes() == (STATIC_DIR / relative).read_bytes()
    config = (tmp_path / "assets" / "config.js").read_text()
    assert 'gatewayUrl": "https://llm.example.com"' in config


def test_export_overwrites_an_earlier_export(tmp_path: Path) -> None:
    export_site(tmp_path, "https://old.example.com")
    export_site(tmp_path, "https://new.example.com")
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text())
    config = (tmp_path / manifest["assets/config.js"]).read_text()
    assert "new.example.com" in config and "old.example.com" not in config


def test_config_is_json_encoded_not_templated() -> None:
    text = config_js('https://x.example.com/";alert(1);//')
    literal = text.split("export const config = ", 1)[1].rstrip(";\n")
    assert json.loads(literal)["apiUrl"] == 'https://x.example.com/";alert(1);//'


@pytest.mark.parametrize("url", ["", "api.example.com", "ftp://api.example.com",
                                 "https://api.example.com/?x=1", "https://"])
def test_bad_base_urls_are_refused_with_the_field(url: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_base_url(url, "api_url")
    assert raised.value.field == "api_url"


def test_base_urls_lose_the_trailing_slash() -> None:
    assert check_base_url(" https://api.example.com/prefix/ ", "api_url") == \
        "https://api.example.com/prefix"
