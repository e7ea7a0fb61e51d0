"""A ``flowllama up`` SIGKILLed in the middle of provisioning two local deployments, started
again on the same data dir and database: both deployments are running within 60 s of the
restart, with exactly one inference process each (the runtimes, not their supervisors). The
dead process's row leases are freed at once (its owner is provably gone) and its job leases run
out within one short lease, so nothing waits for the old 10-minute expiry. On SQLite and
PostgreSQL."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from flowllama.db.session import Database
from flowllama.db.tables import Deployment
from flowllama.providers.local import procfs
from flowllama.providers.local.supervision import SUPERVISOR_MODULE, find_supervisors
from flowllama.runtimes import LlamaCppRuntime
from flowllama.runtimes.llamacpp import SERVER_MODULE
from processes import Api, flowllama_up, local_env, stop_up

pytestmark = pytest.mark.slow

RECOVERY_TARGET_S = 60


def _inference_processes(local_root: Path) -> Counter[str]:
    """Running llama.cpp servers per deployment, counted inside their supervisors' sessions."""
    counts: Counter[str] = Counter()
    for supervisor in find_supervisors(local_root):
        for member in procfs.session_members(supervisor.pid, supervisor.start_time):
            if member.pid != supervisor.pid and _is_server(procfs.command_line(member.pid) or []):
                counts[supervisor.deployment_id] += 1
    return counts


def _all_inference_processes(marker: Path) -> int:
    """Every llama.cpp server working under ``marker``, supervised or not (a supervisor's own
    command line names the server it runs, so supervisors are told apart)."""
    return sum(
        1 for info in procfs.all_processes()
        if info.running and _is_server(procfs.command_line(info.pid) or [])
        and _works_in(info.pid, marker))


def _is_server(argv: list[str]) -> bool:
    return SERVER_MODULE in argv and SUPERVISOR_MODULE not in argv


def _works_in(pid: int, marker: Path) -> bool:
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")).is_relative_to(marker)
    except OSError:
        return False


def test_a_sigkilled_up_has_every_deployment_back_within_a_minute(
        database: Database, db_url: str, tmp_path: Path, tiny_model_file: Path) -> None:
    if not LlamaCppRuntime().is_installed():
        pytest.skip("llama-cpp-python[server] is not installed (the llamacpp extra)")
    env = local_env(tiny_model_file.parent, FLOWLLAMA_AGENT__WORKERS="2",
                    FLOWLLAMA_DATABASE_URL=db_url)
    local_root = tmp_path / "data" / "local"
    with flowllama_up(tmp_path, env) as first:
        api = Api(first.base_url)
        ids = []
        for name in ("tiny-a", "tiny-b"):
            created = api.http.post("/api/deployments", json={
                "name": name, "model": "local/tiny", "context_size": 512, "cloud": "local"})
            assert created.status_code == 202, created.text
            ids.append(created.json()["id"])
        deadline = time.monotonic() + 60
        while not find_supervisors(local_root):  # a runtime is being launched: kill now
            assert time.monotonic() < deadline, "no runtime was ever launched"
            time.sleep(0.02)
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)
    statuses = [_status_in_db(database, deployment_id) for deployment_id in ids]
    assert "running" not in statuses, f"killed too late to be mid-provisioning: {statuses}"

    with flowllama_up(tmp_path, env) as again:
        restarted = time.monotonic()
        api = Api(again.base_url, register=False)
        while [api.deployment(d)["status"] for d in ids] != ["running", "running"]:
            waited = time.monotonic() - restarted
            assert waited < RECOVERY_TARGET_S, (
                f"not running {waited:.0f}s after the restart: "
                f"{[api.deployment(d)['status'] for d in ids]}")
            time.sleep(0.3)
        assert _inference_processes(local_root) == dict.fromkeys(ids, 1)
        assert _all_inference_processes(tmp_path) == 2
        stop_up(again.process)
        assert again.process.returncode == 0
    assert find_supervisors(local_root) == []


def _status_in_db(database: Database, deployment_id: str) -> str:
    """The deployment's status as the database has it (the API's process is dead)."""
    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        return row.status
