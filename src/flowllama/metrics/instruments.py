"""Every counter and histogram FlowLlama records, in one registry of its own.

Instruments are created once, at import, in :data:`REGISTRY` (not prometheus-client's global
default registry), so building many apps in one process (the test suite) never registers a
name twice, and ``/metrics`` shows FlowLlama's series and nothing a library slipped in.
Roles import the instrument they record to (the monitor: ``HEALTH_CHECKS``,
``HEALTH_CHECK_SECONDS``, ``HEAL_ATTEMPTS``); values computed at scrape time (deployments by
status, queue depth) are collectors built per app in ``collectors.py``.

Label values must come from small fixed sets (a route template, never a raw path with ids).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

# Latency buckets from a cached API read (ms) to a long streamed generation (minutes).
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                 120.0, 300.0)
_PROBE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter(
    "flowllama_http_requests", "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"], registry=REGISTRY,
)
HTTP_REQUEST_SECONDS = Histogram(
    "flowllama_http_request_seconds",
    "Time from request start to the end of the response body, by method and route template.",
    ["method", "route"], buckets=_HTTP_BUCKETS, registry=REGISTRY,
)
JOBS = Counter(
    "flowllama_jobs", "Agent job outcomes: acked, retried, dead_lettered, lease_lost.",
    ["kind", "outcome"], registry=REGISTRY,
)
WEBHOOK_DELIVERIES = Counter(
    "flowllama_webhook_deliveries",
    "Webhook delivery attempts by outcome: delivered, retry (will be tried again), failed "
    "(out of attempts), refused (SSRF rules at send time).",
    ["event", "outcome"], registry=REGISTRY,
)
WEBHOOK_DELIVERY_SECONDS = Histogram(
    "flowllama_webhook_delivery_seconds", "Duration of one webhook delivery attempt.",
    buckets=_PROBE_BUCKETS, registry=REGISTRY,
)
HEALTH_CHECKS = Counter(
    "flowllama_health_checks",
    "Instance health checks by result (e.g. healthy, unhealthy, degraded, timeout, error).",
    ["result"], registry=REGISTRY,
)
HEALTH_CHECK_SECONDS = Histogram(
    "flowllama_health_check_seconds", "Duration of one instance health check.",
    buckets=_PROBE_BUCKETS, registry=REGISTRY,
)
HEAL_ATTEMPTS = Counter(
    "flowllama_heal_attempts",
    "Auto-heal attempts by outcome (e.g. started, healed, failed, gave_up).",
    ["outcome"], registry=REGISTRY,
)
LOOP_LAST_SUCCESS = Gauge(
    "flowllama_loop_last_success_timestamp_seconds",
    "Unix time of the last successful round of each background loop of this process "
    "(or of when the process started the loop, until it first succeeds).",
    ["loop"], registry=REGISTRY,
)
LOOP_FAILURES = Counter(
    "flowllama_loop_failures",
    "Failed rounds of each background loop (each is followed by a backoff and a retry).",
    ["loop"], registry=REGISTRY,
)

# Gateway domain series. The ``deployment`` label is a deployment id (bounded by the number of
# deployments, never user text); ``kind`` and ``code`` come from fixed sets in the code.
_TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0)
GATEWAY_TOKENS = Counter(
    "flowllama_gateway_tokens",
    "Tokens metered by the gateway, by deployment and direction (prompt, completion).",
    ["deployment", "direction"], registry=REGISTRY,
)
GATEWAY_TTFT_SECONDS = Histogram(
    "flowllama_gateway_time_to_first_token_seconds",
    "Streamed requests: time from picking an instance to the first event relayed to the client.",
    ["deployment"], buckets=_TTFT_BUCKETS, registry=REGISTRY,
)
GATEWAY_UPSTREAM_SECONDS = Histogram(
    "flowllama_gateway_upstream_head_seconds",
    "Time from picking an instance to the upstream response head (retries included).",
    ["deployment"], buckets=_HTTP_BUCKETS, registry=REGISTRY,
)
GATEWAY_UPSTREAM_ERRORS = Counter(
    "flowllama_gateway_upstream_errors",
    "Upstream failures by deployment and kind: unreachable, busy (503), timeout, status_5xx, "
    "status_4xx (a 4xx the client cannot act on, e.g. a runtime's 401), broken (cut off "
    "mid-answer), stalled (stream idle too long).",
    ["deployment", "kind"], registry=REGISTRY,
)
GATEWAY_REFUSALS = Counter(
    "flowllama_gateway_refusals",
    "Requests the gateway answered with an error of its own, by status and error code "
    "(429s by reason: rate_limit_exceeded, insufficient_quota; 503 circuit_open...).",
    ["status", "code"], registry=REGISTRY,
)
GATEWAY_RATE_LIMITED = Counter(
    "flowllama_gateway_rate_limited",
    "429s by reason: requests (rpm), tokens (tpm), budget (the key's monthly token budget).",
    ["reason"], registry=REGISTRY,
)
GATEWAY_USAGE_FLUSH_FAILURES = Counter(
    "flowllama_gateway_usage_flush_failures",
    "Failed writes of the gateway's usage batch (the counts are kept for the next flush).",
    registry=REGISTRY,
)
MONITOR_ROUND_SECONDS = Gauge(
    "flowllama_monitor_round_seconds", "Duration of the monitor's last round of health checks.",
    registry=REGISTRY,
)
MONITOR_INTERVAL_SECONDS = Gauge(
    "flowllama_monitor_interval_seconds",
    "The monitor's configured interval (a round longer than this is overrunning).",
    registry=REGISTRY,
)
