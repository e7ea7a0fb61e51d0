"""The docs tell the truth: every setting is documented, every relative link in README.md and
docs/*.md resolves (anchors included), the README links every doc, and the architecture page's
state diagram is the code's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from flowllama.settings import Settings

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def _env_names(model: type[BaseModel], prefix: str) -> list[str]:
    names = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += _env_names(annotation, f"{prefix}{name.upper()}__")
        else:
            names.append(f"{prefix}{name.upper()}")
    return names


def test_every_setting_is_documented() -> None:
    text = DOC.read_text()
    missing = [name for name in _env_names(Settings, "FLOWLLAMA_") if f"`{name}`" not in text]
    assert missing == []


ROOT = DOC.parent.parent
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|^\[[^\]]+\]:\s*(\S+)", re.MULTILINE)
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of ``path``."""
    anchors = set()
    for line in _FENCE.sub("", path.read_text()).splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def _relative_links(path: Path) -> list[str]:
    text = _FENCE.sub("", path.read_text())
    text = re.sub(r"`[^`\n]*`", "", text)  # code spans are not links
    links = [a or b for a, b in _LINK.findall(text)]
    return [link for link in links if not re.match(r"^[a-z][a-z0-9+.-]*:", link)]


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: p.name)
def test_every_relative_link_resolves(path: Path) -> None:
    broken = []
    for link in _relative_links(path):
        target, _, anchor = link.partition("#")
        file = (path.parent / target).resolve() if target else path
        if not file.exists() or (
                anchor and file.suffix == ".md" and anchor not in _anchors(file)):
            broken.append(link)
    assert broken == []


def test_readme_links_every_doc() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [p.name for p in (ROOT / "docs").glob("*.md") if f"(docs/{p.name})" not in readme]
    assert missing == []


def test_architecture_state_diagram_is_the_code() -> None:
    from flowllama.domain.lifecycle import ALLOWED, Status

    text = (ROOT / "docs" / "architecture.md").read_text()
    diagram = text.split("stateDiagram-v2", 1)[1].split("```", 1)[0]
    drawn = {tuple(m) for m in re.findall(r"^\s*([a-z]+) --> ([a-z]+)\s*$", diagram, re.M)}
    universal = {Status.DELETING, Status.FAILED}
    expected = {(a.value, b.value) for a, targets in ALLOWED.items() for b in targets
                if b not in universal or (a, b) == (Status.DELETING, Status.DELETED)}
    expected |= {("deleting", "deleted")}
    assert drawn == expected
    for status in Status:  # "any status may move to deleting / failed", as the page says
        if status not in (Status.DELETED, Status.DELETING):
            assert Status.DELETING in ALLOWED[status]
        if status not in (Status.DELETED, Status.FAILED):
            assert Status.FAILED in ALLOWED[status]
