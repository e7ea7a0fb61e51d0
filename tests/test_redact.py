"""redact(): secret-named fields and secret-looking values are masked wherever they are."""

from __future__ import annotations

from flowllama.redact import MASK, redact, redact_text


def test_masks_secret_keys_recursively() -> None:
    event = {
        "event": "x", "password": "hunter2hunter2", "nested": {"refresh_token": "abc"},
        "items": [{"api_key": "k"}], "prompt_tokens": 12, "token_type": "bearer",
    }
    clean = redact(event)
    assert clean["password"] == MASK
    assert clean["nested"]["refresh_token"] == MASK
    assert clean["items"][0]["api_key"] == MASK
    assert clean["prompt_tokens"] == 12  # metering counts stay
    assert clean["token_type"] == "bearer"


def test_masks_secret_values_inside_text() -> None:
    jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_nature-1"
    text = (f"Authorization: Bearer abc.def-ghi and key fl-{'A' * 40} and {jwt_like} "
            "and /reset?token=s3cr3t&x=1")
    clean = redact_text(text)
    for secret in ("abc.def-ghi", "A" * 40, jwt_like, "s3cr3t"):
        assert secret not in clean
    assert "x=1" in clean
