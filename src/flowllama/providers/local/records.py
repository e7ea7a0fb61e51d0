"""The on-disk record of each local server: ``<root>/records/<server_key>.json``.

A deployment's first server is keyed by its id; other servers of the same deployment (replicas,
a blue/green replacement) by ``<deployment_id>-<slot>`` (``DeploymentSpec.server_key``).

A record is what lets a restarted FlowLlama find its runtimes again: the supervisor's boot id,
pid and start time (its identity, see :mod:`.procfs`), the port and URLs, the log file, and the
spec needed to launch it again. Records are written atomically (temporary file, fsync, rename), so a
crash leaves the old record or the new one, never half of one. :meth:`RecordStore.lock` is an
``flock`` on ``<root>/records/.lock``: it serialises "check, launch, record" across threads and
processes of one machine.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import structlog

from flowllama.errors import ProvisioningFailed
from flowllama.providers.base import DeploymentSpec
from flowllama.providers.naming import resource_name

log = structlog.get_logger(__name__)

RECORD_VERSION = 1
SUFFIX = ".json"
# Far above any one machine's deployments; only bounds a listing.
MAX_RECORDS = 10_000
LOCK_TIMEOUT_S = 30.0


class StopReason(StrEnum):
    """Why a record is kept without a process. Only ``shutdown`` (``flowllama up`` exiting:
    bring it back on the next start) exists: a user's stop destroys the record."""

    SHUTDOWN = "shutdown"


@dataclass(frozen=True, kw_only=True)
class LocalRecord:
    """One deployment's runtime on this machine.

    While launched, ``pid``/``start_time`` identify its supervisor and ``boot_id`` the boot they
    belong to (a reboot ends every process). A stopped record (``stopped_by`` set, no pid) keeps
    the spec so that the runtime can be launched again.
    """

    deployment_id: str
    user_id: str
    name: str
    model: str
    requested_runtime: str
    runtime: str
    context_size: int
    parallel: int
    stopped_by: StopReason | None = None
    boot_id: str = ""
    pid: int | None = None
    start_time: int | None = None
    port: int
    endpoint_url: str
    openai_base_url: str
    health_url: str
    log_path: str
    needed_bytes: int
    updated_at: str = ""
    # Whether the runtime was started with its deployment's key (and refuses requests without
    # it); a runtime launched without one is replaced rather than adopted when keys are on.
    keyed: bool = False
    # Which of the deployment's servers this is ("" = the first; ``DeploymentSpec.slot``).
    slot: str = ""

    @property
    def server_key(self) -> str:
        """What the record (and its supervisor and log file) is keyed on."""
        return f"{self.deployment_id}-{self.slot}" if self.slot else self.deployment_id

    def to_dict(self) -> dict[str, Any]:
        """The JSON object written to disk (also the handle's data)."""
        return {"version": RECORD_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LocalRecord:
        """The inverse of :meth:`to_dict`; ``ValueError``/``KeyError``/``TypeError`` if bad."""
        fields = {key: value for key, value in data.items() if key != "version"}
        stopped_by = fields.get("stopped_by")
        fields["stopped_by"] = StopReason(stopped_by) if stopped_by else None
        return cls(**fields)

    def spec(self) -> DeploymentSpec:
        """The deployment spec to launch this runtime again."""
        return DeploymentSpec(
            deployment_id=self.deployment_id, user_id=self.user_id, name=self.name,
            model=self.model, context_size=self.context_size, parallel=self.parallel,
            runtime=self.requested_runtime, cloud="local", gpu="none", slot=self.slot,
        )

    def as_stopped(self, reason: StopReason) -> LocalRecord:
        """This record with its process gone and the reason kept."""
        return replace(self, stopped_by=reason, pid=None, start_time=None)


class RecordStore:
    """The records under ``directory``, by server key (``DeploymentSpec.server_key``); keys are
    validated before they name a file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, server_key: str) -> Path:
        """Where the record of ``server_key`` lives; ``ValueError`` for an unusable key."""
        resource_name(server_key)  # the naming rules keep the key a plain file name
        return self.directory / f"{server_key}{SUFFIX}"

    def load(self, server_key: str) -> LocalRecord | None:
        """The record, or ``None`` if there is none or it cannot be read (logged)."""
        return self._read(self.path(server_key))

    def save(self, record: LocalRecord) -> LocalRecord:
        """Write ``record`` atomically (stamping ``updated_at``) and return what was written."""
        stamped = replace(record, updated_at=datetime.now(UTC).isoformat())
        path = self.path(record.server_key)
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(stamped.to_dict(), handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        return stamped

    def delete(self, server_key: str) -> None:
        """Remove the record if it exists."""
        self.path(server_key).unlink(missing_ok=True)

    def of_deployment(self, deployment_id: str) -> list[LocalRecord]:
        """Every readable record of ``deployment_id``'s servers, by slot."""
        return sorted((r for r in self.all() if r.deployment_id == deployment_id),
                      key=lambda record: record.slot)

    def all(self) -> list[LocalRecord]:
        """Every readable record, by server key."""
        if not self.directory.is_dir():
            return []
        paths = sorted(self.directory.glob(f"*{SUFFIX}"))[:MAX_RECORDS]
        records = (self._read(path) for path in paths if not path.name.startswith("."))
        return [record for record in records if record is not None]

    @contextlib.contextmanager
    def lock(self, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
        """Exclusive across threads and processes (``flock`` on a file per open).

        Holders only check, spawn and write, so waiting ``timeout_s`` means something is
        stuck: ``ProvisioningFailed`` (retryable) then.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / ".lock").open("a") as handle:
            deadline = time.monotonic() + timeout_s
            while not _try_flock(handle.fileno()):
                if time.monotonic() >= deadline:
                    raise ProvisioningFailed(
                        f"the local records lock in {self.directory} was busy for {timeout_s:g}s"
                    )
                time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _read(self, path: Path) -> LocalRecord | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return LocalRecord.from_dict(data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # Its process, if any, is still found by the supervisor scan (see .supervision).
            log.warning("local.record_unreadable", path=str(path), error=str(exc))
            return None


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
