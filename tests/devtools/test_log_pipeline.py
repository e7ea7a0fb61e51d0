"""The log-pipeline checker finds what Fluent Bit and Elasticsearch would reject or mangle."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from flowllama.devtools.log_pipeline import (
    CRI_SPLIT_BYTES,
    check_lines,
    cri_unwrap,
    cri_wrap,
    es_type,
)

WHEN = datetime(2026, 12, 5, 4, 0, 0, 123456, tzinfo=UTC)


def _line(**fields: object) -> str:
    return json.dumps({"event": "e", "level": "info", "timestamp": "2026-12-05T04:00:00Z",
                       **fields})


def test_a_line_is_wrapped_as_the_container_runtime_writes_it() -> None:
    (record,) = cri_wrap('{"event": "e"}', WHEN)
    assert record == '2026-12-05T04:00:00.123456000Z stdout F {"event": "e"}'
    assert list(cri_unwrap([record])) == [("stdout", '{"event": "e"}')]


def test_a_long_line_is_split_into_partial_records_and_joined_again() -> None:
    line = json.dumps({"detail": "é" * CRI_SPLIT_BYTES}, ensure_ascii=False)  # 2 bytes each
    records = cri_wrap(line, WHEN)
    assert [r.split(" ")[2] for r in records] == ["P", "P", "F"]
    assert list(cri_unwrap(records)) == [("stdout", line)]


def test_a_record_the_cri_expression_rejects_raises() -> None:
    with pytest.raises(ValueError, match="not a CRI log record"):
        list(cri_unwrap(["no time stream or tag"]))


@pytest.mark.parametrize(("value", "kind"), [
    (True, "boolean"), (3, "long"), (3.5, "float"), ("abc", "text"), ({"a": 1}, "object"),
    ("2026-12-05T04:00:00.123456Z", "date"), ("2026-12-05", "date"), (None, None),
])
def test_values_map_to_elasticsearch_types(value: object, kind: str | None) -> None:
    assert es_type(value) == kind


def test_clean_lines_pass() -> None:
    report = check_lines([("a", _line(status=200, tags=["x", "y"], ctx={"id": "1"})),
                          ("b", _line(status=None, tags="z", ctx={"id": "2"}))], 16_000)
    assert report.all_problems() == [] and report.documents == 2


def test_a_field_that_changes_type_is_a_conflict() -> None:
    report = check_lines([("a", _line(status=200)), ("b", _line(status="running")),
                          ("c", _line(ms=1)), ("d", _line(ms=1.5)),
                          ("e", _line(at="2026-12-05")), ("f", _line(at="tomorrow")),
                          ("g", _line(ctx={"id": 1})), ("h", _line(ctx="plain"))], 16_000)
    conflicts = report.conflicts()
    assert [c.split(":")[0] for c in conflicts] == ["at", "ctx", "ms", "status"]
    assert "long (e.g. 200 from a)" in conflicts[-1] and "text" in conflicts[-1]


def test_reserved_dotted_and_underscore_keys_are_problems() -> None:
    report = check_lines([("a", _line(stream=True)), ("b", _line(**{"a.b": 1})),
                          ("c", _line(_id="x")), ("d", _line(ctx={"k.v": 1}))], 16_000)
    problems = "\n".join(report.all_problems())
    assert "reserved key 'stream'" in problems
    assert "'a.b'" in problems and "'_id'" in problems and "'ctx.k.v'" in problems


def test_long_lines_mixed_arrays_and_non_json_are_reported() -> None:
    report = check_lines([("a", _line(detail="x" * 100)), ("b", _line(mixed=[1, "a"])),
                          ("c", "plain text")], 120)
    problems = "\n".join(report.all_problems())
    assert "over 120" in problems and "mixed types" in problems
    assert report.not_json == ["c: 'plain text'"]


def test_too_many_fields_is_a_problem() -> None:
    report = check_lines([("a", _line(**{f"f{n}": n for n in range(1001)}))], 10**6)
    assert any("distinct fields" in problem for problem in report.all_problems())
