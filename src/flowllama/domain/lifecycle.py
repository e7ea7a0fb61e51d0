"""The deployment state machine: statuses, desired states and the legal moves between them.

Desired state is what the user asked for; status is what is true. This is domain knowledge with
no database and no side effect: services, gateway, monitor, metrics and agent all read it, and
:func:`flowllama.services.deployment_status.change_status_and_notify` is the one writer that
applies a move (event row and webhook outbox rows in the same transaction).
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    PENDING = "pending"
    PROVISIONING = "provisioning"
    STARTING = "starting"
    RUNNING = "running"
    UNHEALTHY = "unhealthy"
    HEALING = "healing"
    STOPPING = "stopping"
    STOPPED = "stopped"
    DELETING = "deleting"
    DELETED = "deleted"
    FAILED = "failed"
    # Idle with no server (``idle_timeout``): settings, routes and usage kept; the first
    # request through the gateway wakes it (``docs/autopilot.md``).
    SLEEPING = "sleeping"


class Desired(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"
    DELETED = "deleted"
    SLEEPING = "sleeping"


_S = Status
ALLOWED: dict[Status, frozenset[Status]] = {
    _S.PENDING: frozenset({_S.PROVISIONING, _S.STOPPED}),
    _S.PROVISIONING: frozenset({_S.STARTING, _S.STOPPING}),
    _S.STARTING: frozenset({_S.RUNNING, _S.UNHEALTHY, _S.STOPPING}),
    _S.RUNNING: frozenset({_S.UNHEALTHY, _S.STOPPING, _S.STARTING}),
    _S.UNHEALTHY: frozenset({_S.RUNNING, _S.HEALING, _S.STOPPING}),
    # A heal whose replacement failed while the old server still serves goes back to running.
    _S.HEALING: frozenset({_S.STARTING, _S.STOPPING, _S.RUNNING}),
    _S.STOPPING: frozenset({_S.STOPPED, _S.SLEEPING}),
    _S.SLEEPING: frozenset({_S.PROVISIONING, _S.STOPPED}),
    _S.STOPPED: frozenset({_S.PROVISIONING}),
    _S.FAILED: frozenset({_S.PROVISIONING, _S.STOPPING, _S.STOPPED}),
    _S.DELETING: frozenset({_S.DELETED}),
    _S.DELETED: frozenset(),
}
# Any live state may start deleting, and any step that runs out of retries fails.
for _state in set(Status) - {_S.DELETED, _S.DELETING}:
    ALLOWED[_state] = ALLOWED[_state] | {_S.DELETING}
for _state in set(Status) - {_S.DELETED, _S.FAILED}:
    ALLOWED[_state] = ALLOWED[_state] | {_S.FAILED}

TERMINAL = frozenset({Status.DELETED})
ACTIVE = frozenset({Status.RUNNING, Status.UNHEALTHY})


class IllegalTransition(Exception):
    """A move the lifecycle does not allow; a bug or a stale actor, never user input."""


def can_transition(current: str, target: str) -> bool:
    return Status(target) in ALLOWED[Status(current)]


def check_transition(current: str, target: str, reason: str) -> Status:
    """``target`` as a :class:`Status` when the move from ``current`` is legal; otherwise
    :class:`IllegalTransition` naming the move and ``reason``."""
    if not can_transition(current, target):
        raise IllegalTransition(f"{current} → {target} is not allowed ({reason})")
    return Status(target)
