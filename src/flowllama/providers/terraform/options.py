"""Timeouts and policies of the Terraform provisioner, with production defaults."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TerraformOptions:
    """How long to wait for what, and when a state lock counts as stale.

    ``command_timeout_s``: one Terraform command, after which it is interrupted (SIGINT, then
    killed after ``interrupt_grace_s``). ``workspace_wait_s``: waiting for another process of
    ours on the same deployment (an orphaned apply finishing). ``state_lock_timeout_s``: Terraform's
    own ``-lock-timeout``. ``max_lock_age_s``: a state lock older than this is broken even if its
    holder cannot be proved dead. ``refresh_from_cloud``: :meth:`refresh` re-reads the real
    resources (``apply -refresh-only``) instead of trusting the state.
    """

    command_timeout_s: float = 3600.0
    interrupt_grace_s: float = 120.0
    workspace_wait_s: float = 900.0
    state_lock_timeout_s: int = 10
    max_lock_age_s: float = 6 * 3600.0
    refresh_from_cloud: bool = True
