"""Read runs for the dashboard from a results store: summaries in time order, files safely."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flowllama.errors import InvalidInput, NotFound, ServiceUnavailable
from flowllama.loadtest.dashboard.render import RAW_FILES, Run
from flowllama.loadtest.store import RUN_ID, ResultsStore, RunRef, StoreUnavailable, target_slug
from flowllama.logging import get_logger

log = get_logger(__name__)


def load_runs(store: ResultsStore, refs: list[RunRef]) -> list[Run]:
    """The summaries of ``refs``, oldest first; a run whose summary cannot be read is left
    out (and logged) rather than failing the page."""
    runs = []
    for ref in sorted(refs, key=lambda r: r.run_id):
        try:
            runs.append(Run(ref.run_id, store.read_summary(ref)))
        except (NotFound, ValueError, OSError) as exc:
            log.warning("loadtest.summary_unreadable", target=ref.target, run_id=ref.run_id,
                        error=str(exc))
    return runs


def checked_ref(target: str, run_id: str, name: str) -> RunRef:
    """The reference of a raw file asked by URL: a known file name of a well-formed run of a
    well-formed target, else a 404 (nothing from the URL reaches a path unchecked)."""
    if name not in RAW_FILES or not RUN_ID.match(run_id) or not is_slug(target):
        raise NotFound("No such load-test file")
    return RunRef(target, run_id)


def is_slug(target: str) -> bool:
    """Whether ``target`` is a store slug as is (so it names a directory, nothing else)."""
    try:
        return target_slug(target) == target
    except InvalidInput:
        return False


def media_type(name: str) -> str:
    return "application/json" if name.endswith(".json") else "text/csv"


@contextmanager
def store_errors() -> Iterator[None]:
    """A store that cannot be reached is a 503 with the reason, not a 500."""
    try:
        yield
    except StoreUnavailable as exc:
        raise ServiceUnavailable(f"The load-test results store is unavailable: {exc}",
                                 code="results_store_unavailable") from exc
