"""The usage page's spend and budgets in a real browser against a real ``flowllama up`` (fast
autopilot rounds): spend so far and the projection, setting the user budget and a key budget
through the form (a bad amount is refused at its field), the bar and the alerts the autopilot
raises, the budget notice on another page, and removing a budget."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from factories import STRONG_PASSWORD
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, Instance, User
from flowllama.db.types import utcnow
from flowllama.runtimes import LlamaCppRuntime
from processes import UpProcess, flowllama_up, local_env

pytestmark = pytest.mark.slow

EMAIL = "spender@example.com"


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory, tiny_model_file: Path) -> Iterator[UpProcess]:
    if not LlamaCppRuntime().is_installed():
        pytest.skip("llama-cpp-python[server] is not installed (the llamacpp extra)")
    env = local_env(tiny_model_file.parent, FLOWLLAMA_AUTOPILOT__INTERVAL_S="0.5")
    with flowllama_up(tmp_path_factory.mktemp("budgets-up"), env) as running:
        yield running


def _seed_spend(up: UpProcess) -> None:
    """A stopped deployment of the user whose (ended) server cost $4/h for up to an hour."""
    now = utcnow()
    start = max(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0),
                now - timedelta(hours=1))
    database = Database(f"sqlite:///{up.data_dir / 'flowllama.db'}")
    try:
        with database.session() as session:
            user = session.query(User).filter_by(email=EMAIL).one()
            row = Deployment(user_id=user.id, name="old", model="local/tiny", context_size=512,
                             cloud="local", desired_state="stopped", status="stopped")
            session.add(row)
            session.flush()
            session.add(Instance(deployment_id=row.id, provider="local", price_per_hour=4.0,
                                 created_at=start, terminated_at=now))
    finally:
        database.dispose()


def _api(base: str) -> httpx.Client:
    http = httpx.Client(base_url=base, timeout=30)
    account = {"email": EMAIL, "password": STRONG_PASSWORD}
    assert http.post("/api/auth/register", json=account).status_code == 201
    token = http.post("/api/auth/login", json=account).json()["access_token"]
    http.headers["Authorization"] = f"Bearer {token}"
    return http


def test_usage_page_sets_budgets_and_shows_spend_and_alerts(browser: Any, up: UpProcess,
                                                           screenshots: Path) -> None:
    http = _api(up.base_url)
    key = http.post("/api/keys", json={"name": "ci"}).json()
    _seed_spend(up)
    spent = http.get("/api/usage/spend").json()["spend_usd"]
    assert spent > 0
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{up.base_url}/login.html")
    page.fill("#email", EMAIL)
    page.fill("#password", STRONG_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/app.html")
    assert page.locator("#budget-notice").count() == 0  # no budget, no notice

    page.goto(f"{up.base_url}/app.html#/usage")
    page.wait_for_selector("#spend-total")
    assert page.inner_text("#spend-total") == f"${spent:,.2f}"
    assert page.inner_text("#spend-projection") == f"${spent:,.2f}"  # nothing runs any more
    assert "No budget set." in page.inner_text("#spend")

    page.fill("#budget-usd", "0")
    page.click("#budget-form button[type=submit]")
    assert "above $0" in page.inner_text("#monthly_usd-error, #budget-usd-error")
    page.fill("#budget-usd", f"{spent * 1.25:.2f}")  # 80 %: alerts at 50 and 80
    page.select_option("#budget-action", "warn")
    page.click("#budget-form button[type=submit]")
    page.wait_for_selector("li.budget[data-scope=user]")
    bar = page.locator("li.budget[data-scope=user] [role=progressbar]")
    assert 75 <= int(bar.get_attribute("aria-valuenow")) <= 81

    deadline = time.monotonic() + 60
    while "80 % reached" not in page.inner_text("#spend"):
        assert time.monotonic() < deadline, page.inner_text("#spend")
        page.wait_for_timeout(500)
        page.reload()
        page.wait_for_selector("li.budget[data-scope=user]")
    assert "50 % reached" in page.inner_text("li.budget[data-scope=user] .budget-alerts")
    page.screenshot(path=screenshots / "budgets-usage.png", full_page=True)

    page.get_by_role("link", name="API keys").click()
    page.wait_for_selector("#budget-notice")
    assert "reached 80 %" in page.inner_text("#budget-notice")

    page.get_by_role("link", name="Usage").click()
    page.wait_for_selector("#budget-form")
    page.select_option("#budget-scope", key["id"])
    page.fill("#budget-usd", "1000")
    page.select_option("#budget-action", "stop")
    page.click("#budget-form button[type=submit]")
    key_budget = page.locator(f"li.budget[data-key='{key['id']}']")
    key_budget.wait_for()
    assert "key ci" in key_budget.inner_text() and "stops at 100 %" in key_budget.inner_text()
    assert [b["scope"] for b in http.get("/api/budgets").json()] == ["user", "key"]

    key_budget.get_by_role("button", name="Remove key ci").click()
    key_budget.wait_for(state="detached")
    assert [b["scope"] for b in http.get("/api/budgets").json()] == ["user"]
    assert errors == []
    context.close()
