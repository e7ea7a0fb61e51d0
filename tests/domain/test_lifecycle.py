"""The state machine allows exactly the documented moves (pure: no database)."""

from __future__ import annotations

import pytest

from flowllama.domain.lifecycle import (
    ALLOWED,
    IllegalTransition,
    Status,
    can_transition,
    check_transition,
)


def test_every_live_state_can_be_deleted_or_failed() -> None:
    for state in Status:
        if state not in (Status.DELETED, Status.DELETING):
            assert can_transition(state, Status.DELETING)
        if state not in (Status.DELETED, Status.FAILED):
            assert can_transition(state, Status.FAILED)
    assert ALLOWED[Status.DELETED] == frozenset()


@pytest.mark.parametrize(("current", "target"), [
    (Status.PENDING, Status.RUNNING), (Status.STOPPED, Status.RUNNING),
    (Status.DELETED, Status.PROVISIONING), (Status.DELETING, Status.RUNNING),
])
def test_illegal_moves(current: Status, target: Status) -> None:
    assert not can_transition(current, target)


def test_check_transition_names_the_refused_move() -> None:
    assert check_transition("running", "stopping", "stop") is Status.STOPPING
    with pytest.raises(IllegalTransition, match="deleted → running is not allowed"):
        check_transition(Status.DELETED, Status.RUNNING, "resurrect")
