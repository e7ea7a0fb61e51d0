"""Settings: env prefix and nesting, JWT secret rules per environment."""

from __future__ import annotations

import secrets
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from flowllama.errors import ConfigError
from flowllama.settings import Settings


def test_env_prefix_and_nesting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLOWLLAMA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FLOWLLAMA_PORT", "9001")
    monkeypatch.setenv("FLOWLLAMA_AUTH__ACCESS_TOKEN_TTL_S", "120")
    settings = Settings()
    assert settings.data_dir == tmp_path
    assert settings.port == 9001
    assert settings.auth.access_token_ttl_s == 120
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'flowllama.db'}"


def test_the_removed_upstream_timeout_is_ignored(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    # Every upstream request sets its own timeouts: the old pool-wide one is gone, and an
    # environment that still sets it keeps starting.
    monkeypatch.setenv("FLOWLLAMA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FLOWLLAMA_GATEWAY__UPSTREAM_TIMEOUT_S", "5")
    gateway = Settings().gateway
    assert not hasattr(gateway, "upstream_timeout_s")
    assert gateway.first_byte_timeout_s == 60.0


def test_database_url_selects_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWLLAMA_DATABASE_URL", "postgresql+psycopg://u@db/flowllama")
    assert Settings().effective_database_url == "postgresql+psycopg://u@db/flowllama"


def test_secrets_are_not_printed(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, auth={"jwt_secret": "s" * 40})  # type: ignore[arg-type]
    assert "s" * 40 not in repr(settings)


@pytest.mark.parametrize("secret", [None, "short", "changeme", "x" * 31])
def test_production_refuses_weak_secret(tmp_path: Path, secret: str | None) -> None:
    auth = {"jwt_secret": secret} if secret is not None else {}
    settings = Settings(env="production", data_dir=tmp_path, auth=auth)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="JWT_SECRET"):
        settings.jwt_secret()


def test_production_accepts_strong_secret(tmp_path: Path) -> None:
    strong = secrets.token_hex(32)
    settings = Settings(env="production", data_dir=tmp_path,
                        auth={"jwt_secret": strong})  # type: ignore[arg-type]
    assert settings.jwt_secret() == strong


def test_development_generates_and_keeps_secret(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).jwt_secret()
    second = Settings(data_dir=tmp_path).jwt_secret()
    assert first == second
    assert len(first) >= 32
    mode = stat.S_IMODE((tmp_path / "jwt_secret").stat().st_mode)
    assert mode == 0o600


def test_development_refuses_weak_explicit_secret(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, auth={"jwt_secret": "weak"})  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        settings.jwt_secret()


@pytest.mark.parametrize("secret", ["a" * 64, "ab" * 32, "k3y-" + "r" * 40, "0123456789" * 4])
def test_production_refuses_long_low_entropy_secret(tmp_path: Path, secret: str) -> None:
    settings = Settings(env="production", data_dir=tmp_path,
                        auth={"jwt_secret": secret})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="too repetitive"):
        settings.jwt_secret()


@pytest.mark.parametrize("make", [lambda: secrets.token_hex(16), lambda: secrets.token_urlsafe(32)])
def test_production_accepts_random_secrets_of_the_usual_shapes(tmp_path: Path, make: object
                                                               ) -> None:
    secret = make()  # type: ignore[operator]
    settings = Settings(env="production", data_dir=tmp_path,
                        auth={"jwt_secret": secret})  # type: ignore[arg-type]
    assert settings.jwt_secret() == secret


@pytest.mark.parametrize(("env", "public"), [("development", True), ("test", True),
                                             ("production", False)])
def test_docs_and_metrics_are_public_only_outside_production(tmp_path: Path, env: str,
                                                             public: bool) -> None:
    settings = Settings(env=env, data_dir=tmp_path)  # type: ignore[arg-type]
    assert settings.docs_public is public
    assert settings.metrics_public is public
    forced = Settings(env=env, data_dir=tmp_path,  # type: ignore[arg-type]
                      http={"public_docs": not public, "public_metrics": not public})
    assert forced.docs_public is not public
    assert forced.metrics_public is not public


def test_unknown_tier_gets_the_default_tiers_quotas(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, quotas={  # type: ignore[arg-type]
        "tiers": {"free": {"api_keys": 2}, "team": {"api_keys": 50}}})
    assert settings.quotas.for_tier("team").api_keys == 50
    assert settings.quotas.for_tier("gold").api_keys == 2


@pytest.mark.parametrize(("field", "value", "named"), [
    ("backend_config", {"bucket": "b", "access_key": "AKIA", "secret_key": "s"},
     "access_key, secret_key"),
    ("backend_config", {"bucket": "b", "token": "t"}, "token"),
    ("backend_config", {"bucket": "b", "credentials": "/key.json"}, "credentials"),
    ("backend_config", {"address": "https://state", "password": "p"}, "password"),
    ("provider_settings", {"aws": {"assume_role": [{"role_arn": "r", "session_token": "t"}]}},
     "aws.assume_role[0].session_token"),
    ("provider_settings", {"google": {"access_token": "ya29"}}, "google.access_token"),
    # The backends' own encryption keys are secrets too (SSE-C for S3, CSEK for GCS).
    ("backend_config", {"bucket": "b", "sse_customer_key": "c2VjcmV0"}, "sse_customer_key"),
    ("backend_config", {"bucket": "b", "encryption_key": "c2VjcmV0"}, "encryption_key"),
    ("backend_config", {"address": "https://state", "client_private_key_pem": "-----BEGIN"},
     "client_private_key_pem"),
])
def test_terraform_settings_refuse_credentials(tmp_path: Path, field: str, value: object,
                                               named: str) -> None:
    with pytest.raises(ValidationError, match="credential settings are not accepted") as caught:
        Settings(data_dir=tmp_path, terraform={field: value})  # type: ignore[arg-type]
    assert caught.value.errors()[0]["loc"] == ("terraform", field)
    assert named in str(caught.value)


def test_terraform_settings_keep_ordinary_keys(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, terraform={  # type: ignore[arg-type]
        "backend": "s3", "backend_config": {"bucket": "b", "region": "r", "encrypt": True,
                                            "kms_key_id": "arn:aws:kms:r:1:key/k",
                                            "kms_encryption_key": "projects/p/cryptoKeys/k"},
        "provider_settings": {"aws": {"assume_role": [{"role_arn": "r"}],
                                      "shared_credentials_files": ["/etc/aws"],
                                      "token_bucket_rate_limiter_capacity": 10}}})
    assert settings.terraform.backend_config["bucket"] == "b"
