"""Outgoing webhooks: registration, the outbox, signed delivery and the SSRF rules."""
