"""The token API gateway: OpenAI-compatible ``/v1`` in front of the owners' running deployments.

See ``docs/gateway.md``. The hot path never touches the database: keys and routes come from
short-lived caches (:mod:`.keys`, :mod:`.routes`) and usage is counted in memory and written
in batches (:mod:`.metering`).
"""

from flowllama.gateway.service import Gateway, build_gateway

__all__ = ["Gateway", "build_gateway"]
