"""Following a log tail: only the lines after what was already shown."""

from __future__ import annotations

from flowllama.client.watch import event_line, new_lines


def test_new_lines_after_the_overlap() -> None:
    assert new_lines([], ["a", "b"]) == ["a", "b"]
    assert new_lines(["a", "b", "c"], ["a", "b", "c"]) == []
    assert new_lines(["a", "b", "c"], ["b", "c", "d", "e"]) == ["d", "e"]
    assert new_lines(["a", "b"], ["x", "y"]) == ["x", "y"]  # the window moved past everything
    assert new_lines(["x", "x"], ["x", "x", "y"]) == ["y"]


def test_event_line() -> None:
    line = event_line({"at": "2026-12-05T04:00:00+00:00", "from_status": None,
                       "to_status": "pending", "reason": "created"})
    assert line == "2026-12-05 04:00:00  - → pending  created"
