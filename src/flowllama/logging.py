"""Structured JSON logs (structlog) for every role.

Each line carries timestamp, level, role and whatever context is bound (request id, user id);
``redact`` runs last so secrets never reach the output.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from flowllama.redact import redact


def _redact_processor(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> Any:
    return redact(event)


class _CurrentStdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is now (test capture and reloads replace it)."""

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


class _StdoutLogger:
    """structlog's output: one line per event, to whatever ``sys.stdout`` is at that moment
    (so a logger bound once, like the access log's, follows test capture and reloads)."""

    def msg(self, message: str) -> None:
        out = sys.stdout
        out.write(message + "\n")  # one write per line: lines from threads never interleave
        out.flush()

    debug = info = warning = warn = error = critical = exception = fatal = msg


_STDOUT_LOGGER = _StdoutLogger()


def _print_logger(*_args: Any) -> _StdoutLogger:
    return _STDOUT_LOGGER


def configure_logging(role: str, level: str = "info", fmt: str = "json") -> None:
    """Route structlog and the standard library's logging through one JSON renderer (stdout)."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared, _redact_processor, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=_print_logger,
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(role=role)
    _bound.clear()
    handler = _CurrentStdoutHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        _redact_processor, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # uvicorn's own access log would duplicate ours, without request ids.
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in ("httpx", "httpcore", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


_bound: dict[str, Any] = {}


def bound_logger(name: str) -> Any:
    """A logger bound to the current configuration, for lines on a hot path: a lazy logger
    re-resolves the configuration on every line. Rebound after ``configure_logging``."""
    logger = _bound.get(name)
    if logger is None:
        logger = _bound[name] = structlog.get_logger(name).bind()
    return logger


def get_logger(name: str | None = None) -> Any:
    """A structlog logger; bind extra context with ``.bind()``."""
    return structlog.get_logger(name)
