"""Model download progress lands on the deployment: the latest step in the status message,
an event at each quarter only."""

from __future__ import annotations

from sqlalchemy import select

from flowllama.agent.progress import ProgressRecorder
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, DeploymentEvent, User
from flowllama.runtimes import PullProgress


def _deployment(database: Database) -> str:
    with database.session() as session:
        user = User(email="ops@example.com", password_hash="x")
        session.add(user)
        session.flush()
        deployment = Deployment(user_id=user.id, name="chat", model="llama3.2:1b",
                                context_size=4096, cloud="local", status="provisioning")
        session.add(deployment)
        session.flush()
        return deployment.id


def test_progress_is_recorded_without_flooding_the_timeline(database: Database) -> None:
    deployment_id = _deployment(database)
    recorder = ProgressRecorder(database)
    recorder(deployment_id, PullProgress("pulling manifest"))
    total = 1_000
    for done in range(0, total + 1, 10):  # 101 progress reports
        recorder(deployment_id, PullProgress("downloading", done / total, done, total))

    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None and row.status == "provisioning"
        assert row.status_message == "downloading (100%)"
        events = session.scalars(select(DeploymentEvent).where(
            DeploymentEvent.deployment_id == deployment_id).order_by(DeploymentEvent.id)).all()
    fractions = [event.data["fraction"] for event in events if event.data]
    assert fractions == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert all(event.from_status == event.to_status == "provisioning" for event in events)


def test_progress_of_a_deleted_deployment_is_ignored(database: Database) -> None:
    ProgressRecorder(database)("no-such-deployment", PullProgress("downloading", 0.5))
