"""Prometheus metrics: the instruments every role records to, and ``/metrics`` exposition."""

from flowllama.metrics.instruments import (
    HEAL_ATTEMPTS,
    HEALTH_CHECK_SECONDS,
    HEALTH_CHECKS,
    HTTP_REQUEST_SECONDS,
    HTTP_REQUESTS,
    JOBS,
    REGISTRY,
    WEBHOOK_DELIVERIES,
    WEBHOOK_DELIVERY_SECONDS,
)

__all__ = [
    "HEALTH_CHECKS",
    "HEALTH_CHECK_SECONDS",
    "HEAL_ATTEMPTS",
    "HTTP_REQUESTS",
    "HTTP_REQUEST_SECONDS",
    "JOBS",
    "REGISTRY",
    "WEBHOOK_DELIVERIES",
    "WEBHOOK_DELIVERY_SECONDS",
]
