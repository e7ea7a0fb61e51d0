"""Request and response bodies of the accounts API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class Strict(BaseModel):
    """Unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class RegisterRequest(Strict):
    email: EmailStr = Field(max_length=320)
    password: str = Field(max_length=1024)


class LoginRequest(Strict):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(Strict):
    refresh_token: str = Field(min_length=1, max_length=200)


class ResetRequest(Strict):
    email: str = Field(min_length=1, max_length=320)


class ResetConfirm(Strict):
    token: str = Field(min_length=1, max_length=200)
    new_password: str = Field(max_length=1024)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    is_admin: bool = False
    tier: str = "free"
    created_at: datetime | None = None


class RegisteredOut(BaseModel):
    id: str
    email: str


class TokenPairOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
