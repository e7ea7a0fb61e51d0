"""Reading the tail of a deployment's rotated log from the files' ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowllama.providers.local import logs
from flowllama.providers.local.logs import log_file, log_files, read_log_tail, remove_logs


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(f"{line}\n" for line in lines))


@pytest.fixture
def current(tmp_path: Path) -> Path:
    """A log rotated twice: ``.log.2`` oldest, then ``.log.1``, then ``.log``."""
    path = log_file(tmp_path, "d1")
    _write(path.with_name("d1.log.2"), [f"old {n}" for n in range(3)])
    _write(path.with_name("d1.log.1"), [f"mid {n}" for n in range(3)])
    _write(path, [f"new {n}" for n in range(3)])
    return path


def test_the_tail_spans_rotated_files_oldest_first(current: Path) -> None:
    assert read_log_tail(current, 2) == ["new 1", "new 2"]
    assert read_log_tail(current, 5) == ["mid 1", "mid 2", "new 0", "new 1", "new 2"]
    assert read_log_tail(current, 100) == (
        [f"old {n}" for n in range(3)] + [f"mid {n}" for n in range(3)]
        + [f"new {n}" for n in range(3)])
    assert read_log_tail(current, 0) == []


def test_no_log_is_an_empty_tail(tmp_path: Path) -> None:
    assert read_log_tail(log_file(tmp_path, "never"), 10) == []


def test_the_tail_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "MAX_TAIL_LINES", 50)
    path = log_file(tmp_path, "d1")
    _write(path, [str(n) for n in range(200)])
    assert read_log_tail(path, 10**6) == [str(n) for n in range(150, 200)]


def test_lines_across_block_boundaries_and_carriage_returns_stay_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs, "_BLOCK", 7)  # many tiny blocks: every line crosses one
    path = log_file(tmp_path, "d1")
    lines = ["first line", "progress 10%\rprogress 50%\rprogress 100%", "", "last ✓"]
    path.write_text("\n".join(lines))  # the newest line is still being written: no newline
    assert read_log_tail(path, 3) == lines[1:]
    assert read_log_tail(path, 10) == lines


def test_log_files_lists_newest_first_and_remove_deletes_all(current: Path) -> None:
    assert [p.name for p in log_files(current)] == ["d1.log", "d1.log.1", "d1.log.2"]
    remove_logs(current)
    assert log_files(current) == []
    remove_logs(current)  # nothing left: still fine


@pytest.mark.parametrize("bad", ["../d1", "D1", "a/b", ""])
def test_a_deployment_id_never_names_a_path_outside_the_logs(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        log_file(tmp_path, bad)
