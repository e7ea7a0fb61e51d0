"""Recognising Terraform state-lock errors and deciding when a lock is stale."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime, timedelta

from flowllama.providers.terraform.state_lock import StateLock, parse_lock_error, stale_reason
from flowllama.providers.terraform.workspace_lock import HolderRecord

HOST = "agent-7"
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

# As Terraform prints it for S3/GCS/local: the holder's own lock info.
S3_STYLE = """Error acquiring the state lock: Error message: operation error S3: PutObject,
StatusCode: 412, PreconditionFailed
Lock Info:
  ID:        6a1c0d55-ffb1-8c87-4b1e-3f1c6a7d2c11
  Path:      flowllama-state/flowllama/fl-abc/terraform.tfstate
  Operation: OperationTypeApply
  Who:       flowllama@agent-7
  Version:   1.11.4
  Created:   2026-05-01 09:30:12.123456789 +0000 UTC
  Info:
"""

# As the HTTP backend prints it: the holder's id in the message, our own attempt below.
HTTP_STYLE = """Error acquiring the state lock: Error message: HTTP remote state already \
locked: ID=holder-42
Lock Info:
  ID:        our-own-attempt
  Who:       flowllama@agent-7
  Created:   2026-05-01 11:59:59 +0000 UTC
"""


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_parses_the_holder_from_lock_info() -> None:
    lock = parse_lock_error(S3_STYLE)
    assert lock == StateLock(
        "6a1c0d55-ffb1-8c87-4b1e-3f1c6a7d2c11",
        "flowllama@agent-7",
        datetime(2026, 5, 1, 9, 30, 12, tzinfo=UTC),
    )
    assert lock.host == "agent-7"


def test_does_not_mistake_our_own_attempt_for_the_holder() -> None:
    assert parse_lock_error(HTTP_STYLE) == StateLock("holder-42")


def test_other_errors_are_not_lock_errors() -> None:
    assert parse_lock_error("Error: InsufficientInstanceCapacity") is None
    assert parse_lock_error("Error acquiring the state lock: timeout") is None


def test_dead_holder_on_this_host_is_stale() -> None:
    lock = StateLock("x", "flowllama@agent-7", NOW)
    record = HolderRecord(dead_pid(), HOST, "create", time.time(), dead_pid(), "apply")
    assert "dead" in (stale_reason(lock, record, hostname=HOST, max_age_s=3600, now=NOW) or "")


def test_live_holder_or_other_host_is_not_stale() -> None:
    lock = StateLock("x", "flowllama@agent-7", NOW)
    alive = HolderRecord(dead_pid(), HOST, "create", time.time(), terraform_pid=1)
    assert stale_reason(lock, alive, hostname=HOST, max_age_s=3600, now=NOW) is None
    elsewhere = HolderRecord(dead_pid(), "agent-9", "create", time.time())
    assert stale_reason(lock, elsewhere, hostname=HOST, max_age_s=3600, now=NOW) is None
    foreign = StateLock("x", "ops@laptop", NOW)
    dead_here = HolderRecord(dead_pid(), HOST, "create", time.time())
    assert stale_reason(foreign, dead_here, hostname=HOST, max_age_s=3600, now=NOW) is None
    assert stale_reason(foreign, None, hostname=HOST, max_age_s=3600, now=NOW) is None


def test_old_lock_is_stale_by_age() -> None:
    old = StateLock("x", "ops@laptop", NOW - timedelta(hours=7))
    assert "older" in (stale_reason(old, None, hostname=HOST, max_age_s=6 * 3600, now=NOW) or "")
    young = StateLock("x", "ops@laptop", NOW - timedelta(hours=5))
    assert stale_reason(young, None, hostname=HOST, max_age_s=6 * 3600, now=NOW) is None


def test_age_falls_back_to_the_crash_record_when_terraform_hides_it() -> None:
    record = HolderRecord(4242, "agent-9", "create", (NOW - timedelta(hours=2)).timestamp())
    reason = stale_reason(StateLock("holder-42"), record, hostname=HOST, max_age_s=3600, now=NOW)
    assert reason is not None and "older" in reason
