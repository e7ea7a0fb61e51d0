"""Builds the autopilot controller of a platform with every task (the monitor role runs it)."""

from __future__ import annotations

from flowllama.autopilot.advisor import advisor_task
from flowllama.autopilot.budgets import BudgetEnforcer
from flowllama.autopilot.controller import AutopilotController, Task
from flowllama.autopilot.idle import idle_sleep_task
from flowllama.autopilot.scaling import LoadScaler
from flowllama.platform import Platform


def autopilot_tasks(platform: Platform) -> list[Task]:
    """The autopilot's tasks, in the order a round runs them."""
    tasks = [idle_sleep_task(platform)]
    scaler = LoadScaler(platform.db, platform.queue, platform.settings.autopilot)
    tasks.append(Task("scaling", scaler.run))
    tasks.append(Task("budgets", BudgetEnforcer(platform.db, platform.queue).run))
    tasks.append(advisor_task(platform))
    return tasks


def build_autopilot(platform: Platform) -> AutopilotController:
    """The controller for ``platform``, ticking every ``FLOWLLAMA_AUTOPILOT__INTERVAL_S``."""
    return AutopilotController(autopilot_tasks(platform),
                               platform.settings.autopilot.interval_s, platform.loops)
