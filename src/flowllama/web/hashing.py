"""Content-hashed asset names for an exported site.

Every file under ``assets/`` is renamed ``<stem>.<hash>.<ext>``, where the hash covers the
file's bytes *after* its own references were rewritten, so a change anywhere below a module
changes the names all the way up to the page. That lets a CDN cache assets forever
(``immutable``) while pages (stable names, ``no-cache``) pick up a new release at once.

References rewritten: ES module specifiers in JS (``from "./x.js"``, ``import "./x.js"``,
``import("./x.js")``), ``url(...)`` in CSS, and ``href``/``src`` attributes in HTML. Only
relative references to files of the site are touched; anything else (``data:``, absolute URLs,
``#fragments``) is left alone. A reference to an asset that does not exist is an error, not a
broken page.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from flowllama.errors import InvalidInput

HASH_LENGTH = 12
HASHED_NAME = re.compile(rf"\.[0-9a-f]{{{HASH_LENGTH}}}\.[A-Za-z0-9]+$")
ASSETS = "assets"

_JS_SPECIFIER = re.compile(r"""(\bfrom\s*|\bimport\s*\(?\s*)(["'])(\.{1,2}/[^"'\n]+)\2""")
_CSS_URL = re.compile(r"""(url\(\s*)(["']?)([^"')\s]+)\2(\s*\))""")
_HTML_ATTR = re.compile(r"""(\b(?:href|src)=)(["'])([^"']+)\2""")
_PATTERNS = {".js": _JS_SPECIFIER, ".mjs": _JS_SPECIFIER, ".css": _CSS_URL,
             ".html": _HTML_ATTR}


def is_hashed(name: str) -> bool:
    """Whether a file name carries a content hash (``app.0123456789ab.js``)."""
    return HASHED_NAME.search(name) is not None


def _resolve(owner: str, reference: str, files: set[str]) -> str | None:
    """The site path ``reference`` (as written in ``owner``) points to, if it is one of ours."""
    if ":" in reference or reference.startswith(("/", "#", "?")):
        return None
    path = reference.split("#", 1)[0].split("?", 1)[0]
    target = posixpath.normpath(posixpath.join(posixpath.dirname(owner), path))
    return target if target in files else None


def _references(owner: str, text: str, files: set[str]) -> list[str]:
    pattern = _PATTERNS.get(PurePosixPath(owner).suffix)
    if pattern is None:
        return []
    found = [_resolve(owner, match.group(3), files) for match in pattern.finditer(text)]
    if pattern is _JS_SPECIFIER:
        missing = [m.group(3) for m, hit in zip(pattern.finditer(text), found, strict=True)
                   if hit is None]
        if missing:
            raise InvalidInput(f"{owner} imports {missing[0]!r}, which is not in the site",
                               field="directory")
    return [hit for hit in found if hit is not None]


def _rewrite(owner: str, text: str, files: set[str], names: dict[str, str]) -> str:
    pattern = _PATTERNS[PurePosixPath(owner).suffix]

    def swap(match: re.Match[str]) -> str:
        reference = match.group(3)
        target = _resolve(owner, reference, files)
        if target is None or target not in names:
            return match.group(0)
        relative = posixpath.relpath(names[target], posixpath.dirname(owner) or ".")
        if pattern is _JS_SPECIFIER and not relative.startswith("."):
            relative = "./" + relative
        tail = reference[len(reference.split("#", 1)[0].split("?", 1)[0]):]
        return match.group(0).replace(reference, relative + tail, 1)

    return pattern.sub(swap, text)


def hashed_name(path: str, content: bytes) -> str:
    """``assets/js/app.js`` -> ``assets/js/app.<sha256 prefix>.js``."""
    digest = hashlib.sha256(content).hexdigest()[:HASH_LENGTH]
    stem, ext = posixpath.splitext(path)
    return f"{stem}.{digest}{ext}"


def hash_site(root: Path) -> dict[str, str]:
    """Rename every asset under ``root/assets`` to its content-hashed name and rewrite every
    reference to it (in assets and pages). Returns the manifest: site path -> hashed path."""
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    texts = {f: (root / f).read_text(encoding="utf-8") for f in files
             if PurePosixPath(f).suffix in _PATTERNS}
    graph = {f: _references(f, texts[f], files) for f in texts}
    names: dict[str, str] = {}
    for asset in _dependency_order(sorted(f for f in files if f.startswith(f"{ASSETS}/")),
                                   lambda f: graph.get(f, [])):
        source = root / asset
        if asset in texts:
            content = _rewrite(asset, texts[asset], files, names).encode("utf-8")
        else:
            content = source.read_bytes()
        names[asset] = hashed_name(asset, content)
        source.unlink()
        (root / names[asset]).write_bytes(content)
    for page in sorted(f for f in texts if not f.startswith(f"{ASSETS}/")):
        (root / page).write_text(_rewrite(page, texts[page], files, names), encoding="utf-8")
    return names


def _dependency_order(items: list[str], deps: Callable[[str], list[str]]) -> list[str]:
    """``items`` with every file after the files it references (depth-first). A cycle cannot
    be hashed (each name would depend on the other's), so it is refused with its path."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = in progress, 2 = done

    def visit(item: str, trail: tuple[str, ...]) -> None:
        if state.get(item) == 2:
            return
        if state.get(item) == 1:
            cycle = " -> ".join((*trail[trail.index(item):], item))
            raise InvalidInput(f"assets reference each other in a cycle: {cycle}",
                               field="directory")
        state[item] = 1
        for dep in deps(item):
            visit(dep, (*trail, item))
        state[item] = 2
        order.append(item)

    for item in items:
        visit(item, ())
    return order
