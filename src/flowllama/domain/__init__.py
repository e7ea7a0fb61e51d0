"""Pydantic models shared by the API, the CLI and the services' callers."""
