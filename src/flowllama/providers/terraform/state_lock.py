"""Terraform state locks: recognise one in an error, and decide whether it is stale.

A killed Terraform leaves its state lock behind on backends that store locks as data (S3
lockfiles, DynamoDB, GCS, HTTP); the local backend's OS-level lock dies with its process. A lock
is stale when the process that held it is known dead (our workspace record names a pid on this
host that no longer exists) or when it is older than the configured maximum age. Anything else
is someone else's live lock, reported as :class:`StateLocked` and never broken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from flowllama.errors import ProviderError
from flowllama.providers.terraform.workspace_lock import HolderRecord, pid_alive

_MARKER = "Error acquiring the state lock"
# The HTTP backend names the holder in the message and shows our own attempt under "Lock Info".
_HOLDER_ID = re.compile(r"already\s+locked:\s*ID=(\S+)")
_INFO_ID = re.compile(r"Lock Info:\s*\n\s*ID:\s*(\S+)")
_INFO_WHO = re.compile(r"^\s*Who:\s*(\S+)", re.MULTILINE)
_INFO_CREATED = re.compile(
    r"^\s*Created:\s*(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)(?:\.\d+)?\s*(Z|[+-]\d{4})?",
    re.MULTILINE,
)


class StateLocked(ProviderError):
    """Terraform state is locked by a process that may still be alive; retry later."""


@dataclass(frozen=True)
class StateLock:
    """The lock named in a Terraform error: its id, and holder/age when Terraform showed them."""

    id: str
    who: str | None = None
    created: datetime | None = None

    @property
    def host(self) -> str | None:
        """The host part of ``who`` (``user@host``)."""
        return self.who.rpartition("@")[2] if self.who else None


def parse_lock_error(text: str) -> StateLock | None:
    """The state lock an error text reports, or ``None`` if it is not a lock error."""
    if _MARKER not in text:
        return None
    holder = _HOLDER_ID.search(text)
    info = _INFO_ID.search(text)
    if holder is None and info is None:
        return None
    lock_id = holder.group(1) if holder else info.group(1)  # type: ignore[union-attr]
    if info is None or info.group(1) != lock_id:
        return StateLock(lock_id)  # the details shown are not the holder's
    who = _INFO_WHO.search(text)
    return StateLock(lock_id, who.group(1) if who else None, _parse_created(text))


def _parse_created(text: str) -> datetime | None:
    match = _INFO_CREATED.search(text)
    if match is None:
        return None
    stamp, zone = match.group(1).replace("T", " "), match.group(2) or "+0000"
    zone = "+0000" if zone == "Z" else zone
    return datetime.strptime(f"{stamp} {zone}", "%Y-%m-%d %H:%M:%S %z")


def stale_reason(
    lock: StateLock,
    previous: HolderRecord | None,
    *,
    hostname: str,
    max_age_s: float,
    now: datetime | None = None,
) -> str | None:
    """Why ``lock`` may be broken, or ``None`` if it must be left alone.

    ``previous`` is the record a crashed workspace holder left (see :mod:`.workspace_lock`).
    """
    now = now or datetime.now(UTC)
    if previous is not None and previous.host == hostname and lock.host in (None, hostname):
        pids = [pid for pid in (previous.pid, previous.terraform_pid) if pid is not None]
        if not any(pid_alive(pid) for pid in pids):
            return f"holder pid {previous.terraform_pid or previous.pid} on {hostname} is dead"
    created = lock.created
    if created is None and previous is not None:
        created = datetime.fromtimestamp(previous.started_at, UTC)
    if created is not None and (now - created).total_seconds() >= max_age_s:
        return f"lock is older than {max_age_s:.0f}s (created {created.isoformat()})"
    return None
