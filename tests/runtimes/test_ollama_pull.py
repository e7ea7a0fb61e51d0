from __future__ import annotations

import pytest

from flowllama.runtimes import ModelNotFound, ModelPullFailed
from flowllama.runtimes.ollama_pull import PullTracker, parse_pull_line


def test_interleaved_layers_add_up_to_one_fraction() -> None:
    tracker = PullTracker()
    assert tracker.feed({"status": "pulling manifest"}).fraction is None
    tracker.feed({"status": "pulling a", "digest": "a", "total": 100})
    tracker.feed({"status": "pulling b", "digest": "b", "total": 300})
    step = tracker.feed({"status": "pulling a", "digest": "a", "total": 100, "completed": 100})
    assert step.fraction == pytest.approx(0.25)
    assert (step.completed_bytes, step.total_bytes) == (100, 400)
    step = tracker.feed({"status": "pulling b", "digest": "b", "total": 300, "completed": 150})
    assert step.fraction == pytest.approx(0.625)


def test_fraction_never_goes_backwards_when_a_layer_appears_late() -> None:
    tracker = PullTracker()
    tracker.feed({"status": "pulling a", "digest": "a", "total": 100, "completed": 80})
    step = tracker.feed({"status": "pulling b", "digest": "b", "total": 900})
    assert step.fraction == pytest.approx(0.8)
    assert step.total_bytes == 1000


def test_status_lines_keep_the_fraction_and_success_completes_it() -> None:
    tracker = PullTracker()
    tracker.feed({"status": "pulling a", "digest": "a", "total": 10, "completed": 10})
    assert tracker.feed({"status": "verifying sha256 digest"}).fraction == 1.0
    assert not tracker.succeeded
    assert tracker.feed({"status": "success"}).fraction == 1.0
    assert tracker.succeeded


def test_success_without_layers_is_complete() -> None:
    # A model already present locally: Ollama sends only status lines.
    tracker = PullTracker()
    assert tracker.feed({"status": "pulling manifest"}).fraction is None
    assert tracker.feed({"status": "success"}).fraction == 1.0


def test_completed_beyond_total_and_junk_numbers_are_clamped() -> None:
    tracker = PullTracker()
    step = tracker.feed({"digest": "a", "total": 10, "completed": 25})
    assert step.fraction == 1.0
    assert tracker.feed({"digest": "b", "total": "lots", "completed": -1}).total_bytes == 10


def test_error_lines_raise() -> None:
    with pytest.raises(ModelNotFound):
        PullTracker().feed({"error": "pull model manifest: file does not exist"})
    with pytest.raises(ModelPullFailed, match="connection reset"):
        PullTracker().feed({"error": "max retries exceeded: connection reset"})


def test_parse_pull_line() -> None:
    assert parse_pull_line('{"status": "success"}\n') == {"status": "success"}
    assert parse_pull_line("   ") is None
    with pytest.raises(ModelPullFailed):
        parse_pull_line("<html>")
    with pytest.raises(ModelPullFailed):
        parse_pull_line("[1, 2]")
