"""The migration Job's wait-for-database init container, run for real: its script, taken from
the rendered Job, returns at once against a reachable database (SQLite and PostgreSQL) and
fails with a message, naming no URL, when the database never answers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from deploy.helm.chart_objects import Objects, by_kind
from tiny_model import free_port

SECRET = "pw-never-logged"


def _script(render: Callable[[str], Objects]) -> str:
    job = by_kind(render("default-values"), "Job")["flowllama-migrate"]
    [wait] = job["spec"]["template"]["spec"]["initContainers"]
    assert wait["command"] == ["python3", "-c"]
    return str(wait["args"][0])


def _run(script: str, url: str, wait_s: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FLOWLLAMA_DATABASE_URL": url, "WAIT_SECONDS": wait_s}
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def test_returns_once_the_database_answers(render: Callable[[str], Objects],
                                           db_url: str) -> None:
    done = _run(_script(render), db_url, "20")
    assert done.returncode == 0, done.stderr
    assert "database is reachable" in done.stdout


def test_gives_up_with_a_message_when_it_never_answers(
        render: Callable[[str], Objects]) -> None:
    url = f"postgresql://flowllama:{SECRET}@127.0.0.1:{free_port()}/flowllama"
    done = _run(_script(render), url, "2")
    assert done.returncode == 1
    assert "waiting for the database (OperationalError)" in done.stdout
    assert "database not reachable after 2 s: OperationalError" in done.stderr
    assert SECRET not in done.stdout + done.stderr
