"""The cost autopilot on the deployment page, in a real browser against a real ``flowllama up``
serving the tiny model: the Edit dialog (a check before any request, the API's refusal at its
field, a change that sends only what changed), the replicas control and the auto-move toggle,
the advisor's recommendation card accepted, and a sleeping deployment with its wake count, hours
asleep and dollars saved."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from factories import STRONG_PASSWORD
from flowllama.db.autopilot_tables import Recommendation
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, DeploymentEvent, Instance
from flowllama.db.types import utcnow
from processes import Api, UpProcess

pytestmark = pytest.mark.slow

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def deployed(up: UpProcess) -> tuple[Api, str]:
    """The user's running local deployment of the tiny model (the module's tests share it;
    the last one puts it to sleep)."""
    api = Api(up.base_url)  # e2e@example.com
    created = api.http.post("/api/deployments", json={
        "name": "auto", "model": "local/tiny", "context_size": 512, "cloud": "local"})
    assert created.status_code == 202, created.text
    deployment_id: str = created.json()["id"]
    api.wait_status(deployment_id, "running")
    return api, deployment_id


@pytest.fixture(scope="module")
def database(up: UpProcess) -> Iterator[Database]:
    """The ``flowllama up``'s own database (SQLite in its data dir)."""
    db = Database(f"sqlite:///{up.data_dir / 'flowllama.db'}")
    yield db
    db.engine.dispose()


@pytest.fixture
def page(browser: Any, up: UpProcess, deployed: tuple[Api, str]) -> Iterator[Any]:
    """The deployment page, signed in; errors thrown by the page fail the test."""
    context = browser.new_context(viewport=DESKTOP)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(f"{up.base_url}/login.html")
    tab.fill("#email", "e2e@example.com")
    tab.fill("#password", STRONG_PASSWORD)
    tab.click("button[type=submit]")
    tab.wait_for_url("**/app.html")
    tab.goto(f"{up.base_url}/app.html#/deployments/{deployed[1]}")
    tab.wait_for_selector("#autopilot")
    yield tab
    context.close()
    assert errors == []


def _patches(page: Any) -> list[dict[str, Any]]:
    """The bodies of the PATCH requests the page sends from now on."""
    sent: list[dict[str, Any]] = []
    page.on("request", lambda r: sent.append(json.loads(r.post_data or "{}"))
            if r.method == "PATCH" else None)
    return sent


UNLABELLED = """() => [...document.querySelectorAll('input, select, button')]
  .filter((el) => !el.closest('[hidden]') && !(el.labels && el.labels.length)
                  && !el.getAttribute('aria-label')
                  && !(el.tagName === 'BUTTON' && el.textContent.trim()))
  .map((el) => el.outerHTML.slice(0, 80))"""


def _open_edit(page: Any) -> None:
    page.click("button[data-action=edit]")
    page.wait_for_selector("dialog #edit-form")
    assert page.evaluate(UNLABELLED) == []  # the page's and the dialog's controls alike


def test_the_edit_dialog_shows_refusals_at_their_field_and_sends_only_changes(
        page: Any, deployed: tuple[Api, str], screenshots: Path) -> None:
    api, deployment_id = deployed
    before = api.deployment(deployment_id)
    sent = _patches(page)
    _open_edit(page)
    assert page.input_value("#edit-context_size") == "512"
    page.fill("#edit-replicas_min", "3")
    page.fill("#edit-replicas_max", "2")
    page.click("#edit-form button[type=submit]")
    assert "below the minimum" in page.inner_text("#edit-replicas_max-error")
    assert sent == []  # checked in the page: no request
    page.fill("#edit-replicas_min", "1")
    page.fill("#edit-replicas_max", "1")
    # This machine has no H100: the API's estimate refuses it, and says so at the GPU field.
    page.select_option("#edit-gpu", "H100")
    page.click("#edit-form button[type=submit]")
    page.wait_for_selector("#edit-gpu-error")
    assert page.get_attribute("#edit-gpu", "aria-invalid") == "true"
    assert sent == [{"gpu": "H100"}]
    page.screenshot(path=screenshots / "autopilot-edit-refused.png", full_page=True)
    assert api.deployment(deployment_id)["gpu"] == before["gpu"]  # nothing was written
    page.select_option("#edit-gpu", before["gpu"])
    page.fill("#edit-context_size", "1024")
    page.check("#edit-idle_on")
    page.fill("#edit-idle_minutes", "45")
    page.click("#edit-form button[type=submit]")
    page.wait_for_selector("dialog #edit-form", state="detached")
    assert sent[-1] == {"context_size": 1024, "idle_timeout_s": 2700}
    generation = before["generation"] + 1
    page.wait_for_selector(f".notice.ok:has-text('generation {generation}')")
    after = api.deployment(deployment_id)
    assert (after["context_size"], after["idle_timeout_s"], after["generation"]) == (
        1024, 2700, generation)
    page.wait_for_selector("#sleep-facts [data-field=idle-timeout]:has-text('after 45 min')")
    page.wait_for_selector("#events li[data-kind=changed]:has-text('context_size 512 → 1024')")
    assert "1,024" in page.inner_text("main section.card >> nth=0")


def test_the_replicas_control_and_the_auto_move_toggle(page: Any,
                                                       deployed: tuple[Api, str]) -> None:
    api, deployment_id = deployed
    sent = _patches(page)
    # How many run depends on where the agent is with the earlier edit's roll.
    assert re.match(r"\d+ running of 1 wanted", page.inner_text("#replicas-now"))
    page.fill("#replicas-max", "0")
    page.click("#replicas-form button[type=submit]")
    assert "1 to 16" in page.inner_text("#replicas-max-error")
    page.fill("#replicas-max", "2")
    page.click("#replicas-form button[type=submit]")
    page.wait_for_selector(".notice.ok:has-text('1 to 2 servers')")
    assert sent == [{"replicas": {"min": 1, "max": 2}}]
    assert api.deployment(deployment_id)["replicas"]["max"] == 2
    page.wait_for_selector("main section.card >> nth=0 >> text=/running \\(min 1, max 2\\)/")
    page.check("#auto-move")
    page.wait_for_selector(".notice.ok:has-text('automatic moves on')")
    assert sent[-1] == {"auto_move": True}
    assert api.deployment(deployment_id)["auto_move"] is True


def _recommend(database: Database, deployment_id: str) -> str:
    """The recommendation the advisor records for a cloud deployment after a price drop. It
    leaves local deployments alone (no price to beat), so the test writes that row itself. A
    CPU offer: the deployment may run 2 servers by now, past the free tier's one GPU server, so
    a move onto a GPU would be refused (403 ``gpu_instances``)."""
    with database.session() as session:
        deployment = session.get(Deployment, deployment_id)
        assert deployment is not None
        row = Recommendation(
            user_id=deployment.user_id, deployment_id=deployment_id, status="open",
            placement={"cloud": "aws", "region": "us-east-2", "zone": "us-east-2b",
                       "instance_type": "c7i.2xlarge", "spot": False, "price_per_hour": 0.8,
                       "gpu": None, "gpu_count": 0},
            current_price_per_hour=1.006, new_price_per_hour=0.8,
            monthly_saving_usd=150.38, saving_percent=20.48)
        session.add(row)
        session.flush()
        return row.id


def test_the_recommendation_card_accepts_a_move(page: Any, deployed: tuple[Api, str],
                                                database: Database, screenshots: Path) -> None:
    api, deployment_id = deployed
    generation = api.deployment(deployment_id)["generation"]
    recommendation_id = _recommend(database, deployment_id)
    card = page.locator(f"#recommendation[data-id='{recommendation_id}']")
    card.wait_for(timeout=15_000)  # the page refreshes every 10 s
    new = card.locator("[data-field=new]").inner_text()
    assert "aws / us-east-2 / us-east-2b / c7i.2xlarge" in new and "$0.80/h" in new
    assert "$1.01/h" in card.locator("[data-field=current]").inner_text()
    assert card.locator("[data-field=monthly-saving]").inner_text() == "$150.38"
    page.screenshot(path=screenshots / "autopilot-recommendation.png", full_page=True)
    card.locator("button[data-action=accept-recommendation]").click()
    page.wait_for_selector(".notice.ok:has-text('moving to aws / us-east-2')")
    card.wait_for(state="detached")
    after = api.deployment(deployment_id)
    assert after["recommendation"] is None and after["generation"] == generation + 1
    listed = api.http.get(f"/api/deployments/{deployment_id}/recommendations").json()
    assert [r["status"] for r in listed if r["id"] == recommendation_id] == ["accepted"]
    page.wait_for_selector("#events li[data-kind=moved]:has-text('moving to')")


def _asleep(database: Database, deployment_id: str) -> None:
    """The state the idle-sleep task and the agent leave a stopped-for-idleness deployment
    in: asleep for 2 hours so far, woken twice before, its last server billed $0.50/h."""
    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None and row.status == "stopped"
        last = session.scalars(select(Instance).where(Instance.deployment_id == deployment_id)
                               .order_by(Instance.created_at.desc())).first()
        assert last is not None
        last.price_per_hour = 0.5
        session.add(DeploymentEvent(deployment_id=deployment_id, from_status="stopping",
                                    to_status="sleeping",
                                    reason="asleep: no request for 2700 s (server released)"))
        row.status, row.desired_state, row.wake_count = "sleeping", "sleeping", 2
        row.asleep_seconds, row.asleep_since = 3600.0, utcnow() - timedelta(hours=1)


def test_a_sleeping_deployment_shows_its_wakes_hours_and_savings(
        page: Any, up: UpProcess, deployed: tuple[Api, str], database: Database,
        screenshots: Path) -> None:
    api, deployment_id = deployed
    api.act(deployment_id, "stop")
    api.wait_status(deployment_id, "stopped")
    _asleep(database, deployment_id)
    shown = api.deployment(deployment_id)
    assert shown["status"] == "sleeping" and round(shown["asleep_hours"]) == 2
    page.reload()
    page.wait_for_selector(".status[data-status=sleeping]")
    facts = page.locator("#sleep-facts")
    assert facts.locator("[data-field=wake-count]").inner_text() == "2 times"
    assert facts.locator("[data-field=asleep-hours]").inner_text() == "2.0"
    assert facts.locator("[data-field=saved]").inner_text() == "$1.00"
    page.wait_for_selector("#events li[data-kind=sleeping]:has-text('Sleeping')")
    page.screenshot(path=screenshots / "autopilot-sleeping.png", full_page=True)
    page.goto(f"{up.base_url}/app.html#/deployments")
    row = page.locator("tr[data-deployment=auto]")
    row.locator(".status[data-status=sleeping]").wait_for()
    assert row.locator("button[data-action=start]").inner_text() == "Wake"
