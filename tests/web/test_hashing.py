"""``web/hashing.py``: content-hashed asset names and the references that follow them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from flowllama.errors import InvalidInput
from flowllama.web.export import MANIFEST_FILE, export_site
from flowllama.web.hashing import hash_site, hashed_name, is_hashed


def _site(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_names_carry_the_hash_and_references_follow(tmp_path: Path) -> None:
    site = _site(tmp_path, {
        "index.html": '<link href="assets/s.css"><script type="module" src="assets/js/a.js">'
                      '</script><a href="app.html#x">app</a><img src="data:,">',
        "app.html": "<p>app</p>",
        "assets/s.css": "body{background:url('img/bg.png')} i{background:url(data:x)}",
        "assets/img/bg.png": "png",
        "assets/js/a.js": 'import { b } from "./lib/b.js";\nconst c = import("../c.js");\n',
        "assets/js/lib/b.js": 'import "../../c.js";\nexport const b = 1;\n',
        "assets/c.js": "export const c = 1;\n",
    })
    names = hash_site(site)
    assert set(names) == {"assets/s.css", "assets/img/bg.png", "assets/js/a.js",
                          "assets/js/lib/b.js", "assets/c.js"}
    assert all(is_hashed(Path(n).name) and (site / n).is_file() for n in names.values())
    assert not (site / "assets/js/a.js").exists()
    index = (site / "index.html").read_text()
    assert f'href="{names["assets/s.css"]}"' in index
    assert f'src="{names["assets/js/a.js"]}"' in index
    assert 'href="app.html#x"' in index and 'src="data:,"' in index  # pages keep their names
    a = (site / names["assets/js/a.js"]).read_text()
    b_name = Path(names["assets/js/lib/b.js"]).name
    assert f'from "./lib/{b_name}"' in a
    assert f'import("../{Path(names["assets/c.js"]).name}")' in a
    css = (site / names["assets/s.css"]).read_text()
    assert f"url('img/{Path(names['assets/img/bg.png']).name}')" in css and "url(data:x)" in css


def test_a_change_deep_down_renames_everything_above_it(tmp_path: Path) -> None:
    files = {"index.html": '<script src="assets/a.js"></script>',
             "assets/a.js": 'import "./b.js";\n', "assets/b.js": "export const v = 1;\n",
             "assets/other.js": "export const o = 1;\n"}
    first = hash_site(_site(tmp_path / "one", files))
    second = hash_site(_site(tmp_path / "two", {**files, "assets/b.js": "export const v = 2;\n"}))
    assert first["assets/b.js"] != second["assets/b.js"]
    assert first["assets/a.js"] != second["assets/a.js"]
    assert first["assets/other.js"] == second["assets/other.js"]


def test_a_missing_import_and_a_cycle_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not in the site"):
        hash_site(_site(tmp_path / "m", {"assets/a.js": 'import "./gone.js";\n'}))
    with pytest.raises(InvalidInput, match="cycle"):
        hash_site(_site(tmp_path / "c", {"assets/a.js": 'import "./b.js";\n',
                                         "assets/b.js": 'import "./a.js";\n'}))


def test_hashed_name_format() -> None:
    name = hashed_name("assets/js/app.js", b"x")
    assert re.fullmatch(r"assets/js/app\.[0-9a-f]{12}\.js", name)
    assert is_hashed(Path(name).name) and not is_hashed("app.js")


def test_export_hashes_every_asset_and_every_import_resolves(tmp_path: Path) -> None:
    written = export_site(tmp_path, "https://api.example.com")
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text())
    assets = [p for p in written if p.parts[0] == "assets"]
    assert assets and all(is_hashed(p.name) for p in assets)
    assert sorted(manifest.values()) == sorted(p.as_posix() for p in assets)
    specifier = re.compile(r"""(?:from|import)\s*\(?\s*["'](\.[^"']+)["']""")
    for path in assets:
        if path.suffix == ".js":
            for target in specifier.findall((tmp_path / path).read_text()):
                assert (tmp_path / path.parent / target).resolve().is_file(), (path, target)
    for page in ("index.html", "app.html", "login.html"):
        for ref in re.findall(r'(?:href|src)="(assets/[^"]+)"', (tmp_path / page).read_text()):
            assert (tmp_path / ref).is_file() and is_hashed(Path(ref).name)


def test_a_second_export_removes_the_first_ones_assets(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("not ours")
    export_site(tmp_path, "https://old.example.com")
    export_site(tmp_path, "https://new.example.com")
    configs = list((tmp_path / "assets").glob("config.*.js"))
    assert len(configs) == 1 and "new.example.com" in configs[0].read_text()
    assert (tmp_path / "keep.txt").is_file()
