"""Structured JSON logs (structlog) for every role.

Each line carries timestamp, level, role and whatever context is bound (request id, user id);
``redact`` runs before rendering so secrets never reach the output. Lines are shaped for the
EFK stack (deploy/helm/flowllama-logging): field names Elasticsearch can map and Fluent Bit
does not own (:func:`elasticsearch_fields`), and at most :data:`MAX_LINE_BYTES` per line
(:class:`BoundedJSONRenderer`). tests/test_log_pipeline.py checks every line of a test run.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, TextIO

import structlog

from flowllama.redact import redact

# The longest line a role writes, in bytes: under the 16 KiB at which container runtimes split
# a line into partial records, and well under the Fluent Bit buffers of the logging chart.
MAX_LINE_BYTES = 16_000
# Keys Fluent Bit puts beside ours when its kubernetes filter merges a line (Merge_Log): the CRI
# parser's time/stream/_p/log, the filter's kubernetes, the es output's @timestamp.
FLUENT_BIT_KEYS = frozenset({"@timestamp", "log", "stream", "kubernetes", "time", "_p"})
# What a cut string keeps at each end: a traceback's last lines name the error.
_KEEP_HEAD, _KEEP_TAIL = 2 / 3, 1 / 3


def _field_name(key: Any, top: bool) -> str:
    """``key`` as a field name Elasticsearch maps as given: no dots (a dot nests objects), no
    top-level leading underscore (metadata fields) and none Fluent Bit owns (``app_`` + it)."""
    name = str(key).replace(".", "_") or "empty"
    if top and (name in FLUENT_BIT_KEYS or name.startswith("_")):
        name = "app_" + name.lstrip("@_")
    return name


def _fields(value: Any, top: bool) -> Any:
    # dict, list and tuple are what the JSON renderer writes as objects and arrays.
    if isinstance(value, dict):
        return {_field_name(key, top): _fields(item, False) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_fields(item, False) for item in value]
    return value


# What the JSON renderer writes as objects and arrays.
_CONTAINERS = (dict, list, tuple)


@lru_cache(maxsize=4096)  # a role's lines come in a few hundred shapes of keys
def _plain_keys(keys: tuple[Any, ...]) -> bool:
    return all(type(key) is str and _field_name(key, True) == key for key in keys)


def elasticsearch_fields(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> Any:
    """Rename, at any depth, the keys of ``event`` that Elasticsearch or Fluent Bit would
    mangle or reject (see :func:`_field_name`); most lines have none and pass unchanged."""
    if _plain_keys(tuple(event)) and not any(
            isinstance(value, _CONTAINERS) for value in event.values()):
        return event
    renamed: dict[str, Any] = _fields(event, True)
    return renamed


class BoundedJSONRenderer:
    """structlog's JSON renderer, with lines over ``max_bytes`` cut down: large non-string
    values become null, then the longest strings lose their middle (``truncated: true`` is
    added), so a line keeps its event, level, time and context, and each field its type (a
    placeholder string in a number's place would be a mapping conflict in Elasticsearch)."""

    def __init__(self, max_bytes: int = MAX_LINE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._render = structlog.processors.JSONRenderer()

    def __call__(self, logger: Any, name: str, event: MutableMapping[str, Any]) -> str:
        line = str(self._render(logger, name, event))
        if len(line) * 4 <= self.max_bytes or len(line.encode()) <= self.max_bytes:
            return line
        share = self.max_bytes // 8
        cut = {key: (None if not isinstance(value, str)
                     and len(json.dumps(value, default=str)) > share else value)
               for key, value in event.items()}
        cut["truncated"] = True
        for _ in range(4):  # each round cuts by what is still over; UTF-8 may need another
            line = str(self._render(logger, name, cut))
            over = len(line.encode()) - self.max_bytes
            if over <= 0:
                return line
            _cut_strings(cut, over + 200)
        small = {key: _small(value) for key, value in cut.items()}
        line = str(self._render(logger, name, small))
        if len(line.encode()) > self.max_bytes:  # thousands of small fields: keep the core
            line = str(self._render(logger, name,
                                    {key: small[key] for key in _CORE if key in small}))
        return line


# What a line keeps when nothing else fits.
_CORE = ("event", "level", "timestamp", "role", "request_id", "truncated")


def _small(value: Any) -> Any:
    """``value`` at most ~200 characters long as JSON: strings are cut, other large values
    become null (a placeholder string would change the field's type)."""
    if isinstance(value, str):
        return value[:200]
    return value if len(json.dumps(value, default=str)) < 200 else None


def _cut_strings(event: dict[str, Any], over: int) -> None:
    """Take about ``over`` characters out of ``event``'s top-level strings by cutting every
    string longer than one common length down to it (the shortest cut that frees enough), so
    no one field loses everything; each keeps its start and its end."""
    lengths = {key: len(value) for key, value in event.items()
               if isinstance(value, str) and len(value) >= 200}
    if not lengths:
        return
    low, high = 0, max(lengths.values())
    while low < high:  # the largest cap that still frees ``over`` characters
        cap = (low + high + 1) // 2
        if sum(max(0, n - cap - 40) for n in lengths.values()) >= over:
            low = cap
        else:
            high = cap - 1
    for key, length in lengths.items():
        if length > low + 40:
            text: str = event[key]
            head = int(low * _KEEP_HEAD)
            tail = low - head
            event[key] = (f"{text[:head]}...[{length - low} characters cut]..."
                          f"{text[length - tail:] if tail else ''}")


def _redact_processor(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> Any:
    return redact(event)


# Where log lines go instead of stdout, while :func:`redirected_output` says so.
_redirect: list[TextIO] = []


@contextmanager
def redirected_output(stream: TextIO) -> Iterator[None]:
    """Send this process's log lines to ``stream`` for a while: for a program whose own stdout
    is its output (the CLI's ``--json``) sharing a process with an app that logs (its tests)."""
    _redirect.append(stream)
    try:
        yield
    finally:
        _redirect.remove(stream)


def _output() -> TextIO:
    return _redirect[-1] if _redirect else sys.stdout


class _CurrentStdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is now (test capture and reloads replace it)."""

    @property
    def stream(self) -> Any:
        return _output()

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


class _StdoutLogger:
    """structlog's output: one line per event, to whatever ``sys.stdout`` is at that moment
    (so a logger bound once, like the access log's, follows test capture and reloads)."""

    def msg(self, message: str) -> None:
        out = _output()
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
    renderer: Any = BoundedJSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, _redact_processor, elasticsearch_fields, renderer],
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
                        _redact_processor, elasticsearch_fields, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # uvicorn's own access log would duplicate ours, without request ids.
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in ("httpx", "httpcore", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Python's warnings and a thread's uncaught exception would otherwise go to stderr as plain
    # text: in a container that is a log record Elasticsearch cannot split into fields.
    logging.captureWarnings(True)
    threading.excepthook = _log_thread_exception


def _log_thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    structlog.get_logger("threading").error(
        "thread.uncaught_exception", thread=args.thread.name if args.thread else None,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback))


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
