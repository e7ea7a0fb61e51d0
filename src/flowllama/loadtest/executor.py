"""Runs the load tests the API queued (``loadtest_runs``), one at a time, in the agent role.

Why not a queue job: jobs of one user run one at a time in order, so a five-minute load test
would hold that user's deployment changes back. This loop claims ``queued`` rows instead,
queues the runs of due schedules, and fails runs that a dead process left ``running``.

How a run reaches the gateway without anyone's key leaking: for each run the executor makes
a short-lived API key of the deployment's owner, restricted to that deployment and expiring
just after the run, hands it to loadtest-core's ``run_loadtest`` in memory (which passes it to
its Locust child over stdin: never a command line, an environment or a log), and revokes it
when the run ends (or when a dead run is found). The owner's own keys are never read — only
hashes are stored anyway — and the tokens used are metered to the owner, like any request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from flowllama.db.tables import ApiKey, Deployment, Instance, LoadtestRun, User
from flowllama.db.types import utcnow
from flowllama.domain.keys import ApiKeyCreate
from flowllama.domain.loadtests import RunStatus
from flowllama.loadtest.config import LoadtestConfig
from flowllama.loadtest.platform_settings import results_url
from flowllama.loadtest.runner import run_loadtest
from flowllama.loadtest.store import open_store, target_slug
from flowllama.logging import get_logger
from flowllama.loops import supervise
from flowllama.platform import Platform
from flowllama.redact import redact_text
from flowllama.services import api_keys, loadtests

log = get_logger(__name__)

# No backend test account exists for a user's run: only the Ollama and token API users.
WEIGHTS = {"backend": 0, "ollama": 1, "tokenapi": 2}
ERROR_TAIL = 2000


@dataclass(frozen=True)
class Launch:
    """One run: its config (the key inside, kept out of its repr), the store's URL, and the
    event that cancels it (the executor stopping: the run ends within a second, unstored)."""

    config: LoadtestConfig
    results_url: str
    cancel: threading.Event | None = None


Launcher = Callable[[Launch], dict[str, Any]]
"""Runs a launch and stores it; returns its ``summary.json`` (raises on a failed run)."""


def run_launch(launch: Launch) -> dict[str, Any]:
    """loadtest-core's :func:`run_loadtest`: Locust in a child process (it patches its
    process for gevent), the key handed over its stdin, the run stored when complete."""
    return run_loadtest(launch.config, open_store(launch.results_url), cancel=launch.cancel)


@dataclass(frozen=True)
class Claimed:
    run_pk: str
    key_id: str
    launch: Launch


class LoadtestExecutor:
    """A thread: :meth:`start`, :meth:`stop` (the current run is killed by its deadline)."""

    def __init__(self, platform: Platform, launcher: Launcher = run_launch) -> None:
        self.platform = platform
        self.launcher = launcher
        self.settings = platform.settings.loadtest
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        beat = self.platform.loops.register("loadtest-executor")
        self._thread = threading.Thread(
            target=supervise, args=(beat, self.run_once, self._stopping),
            kwargs={"idle_s": self.settings.poll_s}, name="loadtest-executor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def run_once(self) -> bool:
        """Queue due schedules, fail dead runs, then run the oldest queued run if any."""
        with self.platform.db.session() as session:
            loadtests.queue_due(session)
        self.fail_stale()
        claimed = self._claim()
        if claimed is None:
            return False
        try:
            summary = self.launcher(claimed.launch)
        except Exception as exc:  # the run failed; the executor lives on
            key = claimed.launch.config.api_key or ""
            text = redact_text(str(exc).replace(key, "[redacted]") if key else str(exc))
            self._finish(claimed, error=text[-ERROR_TAIL:] or type(exc).__name__)
        else:
            self._finish(claimed, summary=summary)
        return True

    def _claim(self) -> Claimed | None:
        with self.platform.db.session() as session:
            run = session.scalar(select(LoadtestRun).where(
                LoadtestRun.status == RunStatus.QUEUED).order_by(LoadtestRun.created_at)
                .limit(1))
            if run is None:
                return None
            won = session.execute(update(LoadtestRun).where(
                LoadtestRun.id == run.id, LoadtestRun.status == RunStatus.QUEUED,
            ).values(status=RunStatus.RUNNING, started_at=utcnow())).rowcount  # type: ignore[attr-defined]
            if not won:  # another agent took it
                return None
            deployment = session.get(Deployment, run.deployment_id)
            user = session.get(User, run.user_id)
            assert deployment is not None and user is not None  # rows cascade together
            if deployment.deleted_at is not None or deployment.status not in loadtests.SERVING:
                run.status, run.finished_at = RunStatus.FAILED, utcnow()
                run.error = f"the deployment is {deployment.status}, not serving"
                return None
            key, secret = api_keys.create(session, user, ApiKeyCreate(
                name=f"load test {run.id[:8]}", models=[deployment.name],
                expires_at=utcnow() + timedelta(seconds=run.duration_s + self.settings.grace_s)))
            run.api_key_id = key.id
            launch = Launch(self.config(deployment, run, secret,
                                        self._price(session, deployment)),
                            results_url(self.settings, self.platform.settings.data_dir),
                            self._stopping)
            log.info("loadtest.started", run=run.id, deployment_id=deployment.id,
                     duration_s=run.duration_s, users=run.users)
            return Claimed(run.id, key.id, launch)

    def config(self, deployment: Deployment, run: LoadtestRun, key: str,
               price: float | None) -> LoadtestConfig:
        """The run against this platform's gateway: the token API users, and the Ollama ones
        when the deployment runs Ollama. The target is named after the deployment and its id,
        so two tenants' deployments of one name never share a store folder."""
        base = self.gateway_url()
        return LoadtestConfig(
            target_name=target_slug(f"{deployment.name}-{deployment.id[:8]}"),
            # The passthrough answers only for an Ollama runtime (as ``--deployment`` does).
            ollama_url=(f"{base}/ollama/{deployment.name}"
                        if deployment.runtime == "ollama" else None),
            token_api_url=f"{base}/v1",
            model=deployment.name, api_key=key, duration_s=run.duration_s, users=run.users,
            spawn_rate=run.users, weights=dict(WEIGHTS), price_per_hour=price,
            price_source="deployment instance billed $/h" if price is not None else None)

    def gateway_url(self) -> str:
        if self.settings.gateway_url:
            return self.settings.gateway_url.rstrip("/")
        host = self.platform.settings.host
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
        return f"http://{host}:{self.platform.settings.port}"

    @staticmethod
    def _price(session: Any, deployment: Deployment) -> float | None:
        price: float | None = session.scalar(
            select(Instance.price_per_hour).where(Instance.deployment_id == deployment.id,
                                                  Instance.terminated_at.is_(None))
            .order_by(Instance.created_at.desc()).limit(1))
        return price

    def _finish(self, claimed: Claimed, *, summary: dict[str, Any] | None = None,
                error: str | None = None) -> None:
        with self.platform.db.session() as session:
            run = session.get(LoadtestRun, claimed.run_pk)
            key_hash = self._revoke(session, claimed.key_id)
            if run is not None:
                run.finished_at = utcnow()
                if summary is not None and _stored(summary):
                    run.status = RunStatus.SUCCEEDED
                    run.target = target_slug(str(summary["target"]["name"]))
                    run.run_id = str(summary["run_id"])
                    totals = summary.get("totals")
                    run.totals = totals if isinstance(totals, dict) else None
                else:
                    run.status = RunStatus.FAILED
                    run.error = error or "the run's summary has no target or run id"
        self._forget(key_hash)
        log.info("loadtest.finished", run=claimed.run_pk, ok=error is None)

    @staticmethod
    def _revoke(session: Any, key_id: str | None) -> str | None:
        key = session.get(ApiKey, key_id) if key_id else None
        if key is None or key.revoked_at is not None:
            return None
        key.revoked_at = utcnow()
        key_hash: str = key.key_hash
        return key_hash

    def _forget(self, key_hash: str | None) -> None:
        if key_hash is not None:  # a gateway in this process drops the key at once
            for listener in self.platform.key_revoked_listeners:
                listener(key_hash)

    def fail_stale(self) -> int:
        """Fail the runs still ``running`` well past their planned end (their process died),
        revoking their keys; returns how many."""
        now = utcnow()
        hashes = []
        with self.platform.db.session() as session:
            rows = session.scalars(select(LoadtestRun).where(
                LoadtestRun.status == RunStatus.RUNNING)).all()
            for run in rows:
                started = run.started_at or run.created_at
                if started + timedelta(seconds=run.duration_s + self.settings.grace_s) > now:
                    continue
                run.status, run.finished_at = RunStatus.FAILED, now
                run.error = "interrupted: the process running it stopped"
                hashes.append(self._revoke(session, run.api_key_id))
        for key_hash in hashes:
            self._forget(key_hash)
        return len(hashes)


def _stored(summary: dict[str, Any]) -> bool:
    target = summary.get("target")
    return (isinstance(target, dict) and bool(target.get("name"))
            and isinstance(summary.get("run_id"), str))
