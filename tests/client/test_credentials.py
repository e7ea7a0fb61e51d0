"""The CLI's logins file: private modes, one entry per server, unreadable means logged out."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from flowllama.client.credentials import CredentialStore, Login, config_dir


def _login(url: str) -> Login:
    return Login(url=url, email="a@example.com", access_token="a", refresh_token="r",
                 expires_at=2e9)


def test_saved_private_and_per_server(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "cfg")
    store.save(_login("http://one"))
    store.save(_login("http://two"))
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    assert store.current_url() == "http://two"
    assert store.get("http://one/") == _login("http://one")  # a trailing slash is the same
    assert store.remove("http://two") and store.current_url() == "http://one"
    assert not store.remove("http://two")
    assert [p.name for p in store.directory.iterdir()] == ["credentials.json"]


def test_unreadable_file_means_no_login(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    store.path.write_text("{not json")
    assert store.get("http://one") is None and store.current_url() is None
    store.path.write_text('{"servers": {"http://one": {"url": "http://one"}}}')
    assert store.get("http://one") is None  # another version's entry: log in again


def test_config_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.delenv("FLOWLLAMA_CONFIG_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_dir() == tmp_path / "xdg" / "flowllama"
    monkeypatch.setenv("FLOWLLAMA_CONFIG_DIR", str(tmp_path / "mine"))
    assert config_dir() == tmp_path / "mine"
