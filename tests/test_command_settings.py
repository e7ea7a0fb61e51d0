"""The command line's settings: options override the environment; an invalid configuration
is a message and exit code 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from flowllama.command_settings import load_settings


def test_options_override_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    monkeypatch.setenv("FLOWLLAMA_PORT", "9000")
    settings = load_settings(host="127.0.0.2", data_dir=tmp_path / "d")
    assert (settings.host, settings.port, settings.data_dir) == ("127.0.0.2", 9000,
                                                                 (tmp_path / "d").resolve())
    assert load_settings(port=9100).port == 9100


def test_an_invalid_configuration_exits_2_with_a_message(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FLOWLLAMA_PORT", "not a port")
    with pytest.raises(typer.Exit) as exit_info:
        load_settings()
    assert exit_info.value.exit_code == 2
    assert "Invalid configuration" in capsys.readouterr().err
