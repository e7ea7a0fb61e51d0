"""Control-plane REST API (``/api/...``)."""
