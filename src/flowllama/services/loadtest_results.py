"""A deployment's load-test results as its owner sees them: a run's summary and raw files,
and the dashboard of its runs, read from the results store through the runs' rows (so only
runs the database says are the owner's are ever read)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from flowllama.db.tables import LoadtestRun
from flowllama.domain.loadtests import DashboardFragment, LoadtestRunDetail
from flowllama.errors import NotFound
from flowllama.loadtest.dashboard.render import RAW_FILES, target_html
from flowllama.loadtest.dashboard.source import checked_ref, load_runs, store_errors
from flowllama.loadtest.platform_settings import results_url
from flowllama.loadtest.store import ResultsStore, RunRef, open_store
from flowllama.settings import Settings


@dataclass(frozen=True)
class LoadtestResults:
    store: ResultsStore
    margin: float

    @classmethod
    def of(cls, settings: Settings) -> LoadtestResults:
        url = results_url(settings.loadtest, settings.data_dir)
        return cls(open_store(url), settings.loadtest.regression_margin)

    def detail(self, row: LoadtestRun) -> LoadtestRunDetail:
        """The run with its summary (and raw file names) once it is stored."""
        detail = LoadtestRunDetail.model_validate(row, from_attributes=True)
        ref = _ref(row)
        if ref is not None:
            try:
                with store_errors():
                    detail.summary = self.store.read_summary(ref)
                detail.files = list(RAW_FILES)
            except NotFound:
                detail.error = detail.error or "the results store no longer has this run"
        return detail

    def raw_file(self, row: LoadtestRun, name: str) -> str | bytes:
        ref = _ref(row)
        if ref is None:
            raise NotFound("This load test has no stored results", field="run")
        with store_errors():
            return self.store.file_url_or_bytes(checked_ref(ref.target, ref.run_id, name), name)

    def dashboard(self, deployment_id: str, rows: list[LoadtestRun]) -> DashboardFragment:
        """The dashboard of ``rows`` (the owner's stored runs of the deployment)."""
        pks = {row.run_id: row.id for row in rows}
        refs = [ref for ref in map(_ref, rows) if ref is not None]
        with store_errors():
            runs = load_runs(self.store, refs)

        def href(run_id: str, name: str) -> str:
            return (f"/api/deployments/{quote(deployment_id)}/loadtests/"
                    f"{quote(pks[run_id])}/files/{quote(name)}")

        title = _title(runs[-1].summary) if runs else deployment_id
        return DashboardFragment(html=target_html(title, runs, href, self.margin),
                                 runs=len(runs))


def _ref(row: LoadtestRun) -> RunRef | None:
    if row.target is None or row.run_id is None:
        return None
    return RunRef(row.target, row.run_id)


def _title(summary: dict[str, Any]) -> str:
    target = summary.get("target")
    return str(target.get("name")) if isinstance(target, dict) else "deployment"
