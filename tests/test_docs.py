"""docs/configuration.md lists every setting."""

from __future__ import annotations

from pathlib import Path

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
