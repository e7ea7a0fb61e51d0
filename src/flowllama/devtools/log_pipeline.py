"""What the EFK pipeline needs of FlowLlama's JSON log lines, checked the way a line travels.

On Kubernetes a role's stdout line is written by the container runtime into a CRI log file as
``<RFC3339Nano time> <stream> <F|P> <text>`` (lines over 16 KiB are split into ``P`` chunks
ending with an ``F`` one). Fluent Bit tails that file with its built-in ``cri`` multiline
parser (:data:`CRI_PARSER_REGEX`, which reassembles the chunks), its ``kubernetes`` filter
merges the JSON text into the record (``Merge_Log On``) beside the keys Fluent Bit itself adds
(:data:`RESERVED_KEYS`), and Elasticsearch maps every field by the first value it sees (dynamic
mapping). No Fluent Bit or Elasticsearch runs here, so :func:`check_lines` checks what they
depend on: each line survives the CRI round trip, is a JSON object, keeps one Elasticsearch
type per field across all lines (a second type is a ``mapper_parsing_exception``, a long field
given a fraction silently truncates it, a string first seen as a date rejects every other
string), has no dotted, empty, underscore-led or reserved keys, stays under the line size the
chart's Fluent Bit buffers hold, and the set of fields stays under the index's field limit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import regex

# Fluent Bit's built-in ``cri`` multiline parser (FLB_ML_CRI_REGEX in Fluent Bit's
# src/multiline/flb_ml_parser_cri.c): the chart's tail input uses that parser by name, so this
# is the expression that really splits our lines there; `regex` accepts its (?<name>) syntax.
CRI_PARSER_REGEX = r"^(?<time>.+?) (?<stream>stdout|stderr) (?<_p>F|P) (?<log>.*)$"
# Key names in CRI_PARSER_REGEX's groups and the ones Fluent Bit's kubernetes filter and es
# output add (Time_Keep keeps ``time``); an app key of the same name collides after Merge_Log.
RESERVED_KEYS = frozenset({"@timestamp", "log", "stream", "kubernetes", "time", "_p"})
# containerd and CRI-O split a line longer than this into partial (P) records.
CRI_SPLIT_BYTES = 16 * 1024
# Elasticsearch's defaults: index.mapping.total_fields.limit and depth.limit.
ES_TOTAL_FIELDS_LIMIT = 1000
ES_DEPTH_LIMIT = 20
# Elasticsearch's default dynamic_date_formats: strict_date_optional_time and yyyy/MM/dd.
_DATE = regex.compile(
    r"^\d{4}-\d{2}(-\d{2}(T\d{2}(:\d{2}(:\d{2}([.,]\d{1,9})?)?)?)?)?"
    r"(Z|[+-]\d{2}(:?\d{2})?)?$"
    r"|^\d{4}/\d{2}/\d{2}( \d{2}:\d{2}:\d{2})?( [+-]\d{4}| Z)?$")
_CRI = regex.compile(CRI_PARSER_REGEX)


def cri_wrap(line: str, when: datetime, stream: str = "stdout") -> list[str]:
    """``line`` as the container runtime writes it to the pod's log file: one ``F`` record, or
    ``P`` chunks of at most :data:`CRI_SPLIT_BYTES` bytes and a final ``F`` one."""
    stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
    data = line.encode()
    chunks = [data[i:i + CRI_SPLIT_BYTES] for i in range(0, len(data), CRI_SPLIT_BYTES)] or [b""]
    # A chunk boundary may fall inside a UTF-8 sequence: the runtime writes bytes, so does this.
    return [f"{stamp} {stream} {'P' if n < len(chunks) - 1 else 'F'} "
            f"{chunk.decode('utf-8', 'surrogateescape')}" for n, chunk in enumerate(chunks)]


def cri_unwrap(records: Iterable[str]) -> Iterator[tuple[str, str]]:
    """``(stream, log)`` for each full line in CRI log records, partial chunks joined per
    stream the way the ``cri`` multiline parser does; a record the expression rejects raises
    ``ValueError``."""
    pending: dict[str, list[str]] = {}
    for record in records:
        match = _CRI.match(record)
        if match is None:
            raise ValueError(f"not a CRI log record: {record[:200]!r}")
        stream, text = match.group("stream"), match.group("log")
        pending.setdefault(stream, []).append(text)
        if match.group("_p") == "F":
            joined = "".join(pending.pop(stream))
            yield stream, joined.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


_SCALAR_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"), (int, "long"), (float, "float"), (Mapping, "object"), (list, "array"))


def es_type(value: Any) -> str | None:
    """The Elasticsearch field type dynamic mapping gives ``value`` (None for null, which
    maps nothing; a string that looks like a date maps as a date)."""
    if value is None:
        return None
    if isinstance(value, str):
        return "date" if _DATE.match(value) else "text"
    # bool before int: True is an int to Python, a boolean to Elasticsearch.
    return next((kind for cls, kind in _SCALAR_TYPES if isinstance(value, cls)), "text")


@dataclass
class Report:
    """What :func:`check_lines` found over every line it was given."""

    lines: int = 0
    documents: int = 0
    # field path -> Elasticsearch type -> the first source that sent it and its value
    fields: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    not_json: list[str] = field(default_factory=list)

    def conflicts(self) -> list[str]:
        """Fields sent with more than one type, each with an example per type."""
        return [f"{path}: " + "; ".join(f"{kind} (e.g. {value} from {source})"
                                         for kind, (source, value) in kinds.items())
                for path, kinds in sorted(self.fields.items()) if len(kinds) > 1]

    def all_problems(self) -> list[str]:
        """Everything Elasticsearch or Fluent Bit would reject or mangle."""
        found = [*self.problems, *(f"type conflict: {c}" for c in self.conflicts())]
        if len(self.fields) > ES_TOTAL_FIELDS_LIMIT:
            found.append(f"{len(self.fields)} distinct fields, over Elasticsearch's "
                         f"{ES_TOTAL_FIELDS_LIMIT}")
        return found


def check_lines(lines: Iterable[tuple[str, str]], max_line_bytes: int,
                when: datetime | None = None) -> Report:
    """Send each ``(source, line)`` through the CRI round trip and check what Elasticsearch
    needs of it; ``source`` names where a line came from in the problems reported."""
    report = Report()
    stamp = when or datetime.now(UTC)
    for source, line in lines:
        report.lines += 1
        size = len(line.encode())
        if size > max_line_bytes:
            report.problems.append(f"{source}: a {size}-byte line, over {max_line_bytes}: "
                                   f"{line[:120]!r}")
        ((_, text),) = cri_unwrap(cri_wrap(line, stamp))
        if text != line:
            report.problems.append(f"{source}: the CRI round trip changed {line[:120]!r}")
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            report.not_json.append(f"{source}: {line[:200]!r}")
            continue
        report.documents += 1
        _check_document(document, source, report)
    return report


def _check_document(document: Mapping[str, Any], source: str, report: Report) -> None:
    for key in document:
        if key in RESERVED_KEYS:
            report.problems.append(f"{source}: reserved key {key!r} (Fluent Bit adds it)")
    for path, value, depth in _leaves(document, ""):
        name = path.rsplit("\0", 1)[-1]
        shown = path.replace("\0", ".")
        if not name or "." in name or (depth == 1 and name.startswith("_")):
            # A leading underscore is Elasticsearch's mark of a metadata field (_id, _source).
            report.problems.append(f"{source}: key {shown!r} is empty, dotted or a top-level "
                                   "name starting with _")
        if depth > ES_DEPTH_LIMIT:
            report.problems.append(f"{source}: {shown} nests deeper than {ES_DEPTH_LIMIT}")
        kind = es_type(value)
        if kind == "array":
            report.problems.append(f"{source}: {shown} holds an array of arrays or of mixed "
                                   f"types: {json.dumps(value)[:120]}")
        elif kind is not None:
            report.fields.setdefault(shown, {}).setdefault(
                kind, (source, json.dumps(value)[:80]))


def _leaves(value: Mapping[str, Any], prefix: str, depth: int = 1
            ) -> Iterator[tuple[str, Any, int]]:
    """``(path, value, depth)`` of every field, arrays flattened to their elements (a mixed
    array is reported as an ``array`` value); paths join keys with NUL so dots stay visible."""
    for key, item in value.items():
        path = f"{prefix}\0{key}" if prefix else str(key)
        for element in _elements(item):
            yield path, element, depth
            if isinstance(element, Mapping):
                yield from _leaves(element, path, depth + 1)


def _elements(value: Any) -> list[Any]:
    if not isinstance(value, list):
        return [value]
    flat = [e for e in value if e is not None]
    kinds = {es_type(e) for e in flat}
    if any(isinstance(e, list) for e in flat) or len(kinds) > 1:
        return [value]  # Elasticsearch has no type for it: reported by the caller
    return flat
