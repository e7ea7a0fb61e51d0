"""The web UI in a real browser against a real ``flowllama up`` serving the tiny model: sign up,
log in, a live estimate, deploy, copy the endpoint, create a key, chat in the playground, usage,
delete; on a desktop and on a 375 px phone. Also: logged-out redirect and another user's id."""

from __future__ import annotations

import email
import email.policy
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from factories import STRONG_PASSWORD
from processes import TIMEOUT_S, Api, UpProcess

pytestmark = pytest.mark.slow

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 740}}
DEPLOY_MS = TIMEOUT_S * 1000


@pytest.fixture
def context(browser: Any, up: UpProcess) -> Iterator[Any]:
    ctx = browser.new_context(viewport=VIEWPORTS["desktop"])
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=up.base_url)
    yield ctx
    ctx.close()


class Shots:
    """Numbered full-page screenshots of one run."""

    def __init__(self, page: Any, folder: Path, run: str) -> None:
        self.page, self.folder, self.run, self.n = page, folder, run, 0

    def __call__(self, name: str) -> None:
        self.n += 1
        path = self.folder / f"{self.run}-{self.n:02d}-{name}.png"
        self.page.screenshot(path=path, full_page=True)


def _errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def on_console(message: Any) -> None:  # the content security policy refused something
        if message.type == "error" and "Content Security Policy" in message.text:
            errors.append(message.text)

    page.on("console", on_console)
    return errors


def _clipboard(page: Any) -> str:
    text: str = page.evaluate("navigator.clipboard.readText()")
    return text


def _sign_up_and_log_in(page: Any, base: str, email: str, shot: Shots) -> None:
    page.goto(f"{base}/")
    shot("landing")
    page.get_by_role("link", name="Sign up").first.click()
    page.wait_for_url("**/signup.html")
    page.fill("#email", email)
    page.fill("#password", "short")
    page.fill("#confirm", "short")
    page.click("button[type=submit]")
    assert "at least 10" in page.inner_text("#password-error")  # checked before any request
    page.fill("#password", STRONG_PASSWORD)
    page.fill("#confirm", STRONG_PASSWORD)
    shot("signup")
    page.click("button[type=submit]")
    page.wait_for_url("**/login.html?registered=*")
    assert page.input_value("#email") == email
    page.fill("#password", STRONG_PASSWORD)
    shot("login")
    page.click("button[type=submit]")
    page.wait_for_url("**/app.html")
    page.wait_for_selector("text=No deployments yet")
    shot("dashboard-empty")


def _estimate_follows_the_slider(page: Any, shot: Shots) -> None:
    page.get_by_role("link", name="New deployment").first.click()
    page.wait_for_selector("#deploy-form")
    page.select_option("#model", "local/tiny")
    slider = page.locator("#context_size")
    assert slider.get_attribute("max") == "2048"  # bounded by the model's context length
    estimate = page.locator("#estimate")
    page.wait_for_selector("#estimate[data-context='2048']:not(.loading)")
    needs_before = page.inner_text("#estimate")
    slider.focus()
    page.keyboard.press("Home")  # keyboard-driven: down to the minimum
    page.wait_for_selector("#estimate[data-context='256']:not(.loading)")
    assert "256 context" in estimate.inner_text()
    assert estimate.inner_text() != needs_before  # the KV cache part of the memory shrank
    slider.fill("512")
    page.wait_for_selector("#estimate[data-context='512']:not(.loading)")
    monthly = page.locator("#estimate [data-cloud=aws] [data-field=monthly]").inner_text()
    assert monthly.startswith("$")
    assert page.locator("#estimate [data-field=spot]").count() == 1
    shot("new-deployment")


def _deploy(page: Any, name: str, shot: Shots) -> Any:
    page.fill("#name", "Not Valid")
    page.select_option("#cloud", "local")
    page.click("#deploy-form button[type=submit]")
    assert "lowercase" in page.inner_text("#name-error")
    page.fill("#name", name)
    page.click("#deploy-form button[type=submit]")
    page.wait_for_url("**/app.html#/deployments")
    row = page.locator(f"tr[data-deployment='{name}']")
    row.locator(".status[data-status=running]").wait_for(timeout=DEPLOY_MS)
    shot("dashboard-running")
    return row


def _create_key(page: Any, shot: Shots) -> str:
    page.get_by_role("link", name="API keys").click()
    page.fill("#key-name", "browser")
    page.fill("#rpm", "60")
    page.click("#key-form button[type=submit]")
    key: str = page.locator("#new-key-value").inner_text()
    assert key.startswith("fl-")
    page.click("#new-key [data-copy=key]")
    assert _clipboard(page) == key
    page.wait_for_selector("tr[data-key=browser]")
    assert "60 req/min" in page.inner_text("tr[data-key=browser]")
    assert key not in page.inner_text("#deployments-table, table")  # the list shows the prefix only
    shot("keys")
    return key


def _chat(page: Any, name: str, key: str, shot: Shots) -> None:
    page.get_by_role("link", name="Deployments").first.click()
    page.get_by_role("link", name=name, exact=True).click()
    page.wait_for_selector("#playground-form")
    page.wait_for_selector("#events li")
    page.fill("#playground-key", key)
    page.fill("#playground-prompt", "Say hello")
    page.click("#playground-form button[type=submit]")
    page.wait_for_selector("#playground-chat .msg.assistant[data-done=true]", timeout=60_000)
    answer = page.inner_text("#playground-chat .msg.assistant")  # streamed, with its usage
    assert re.search(r": .+\(\d+ tokens\)", answer, re.S), answer
    page.fill("#log-search", "llama")
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # long tokens wrap
    shot("deployment-detail")


def _usage_counts_the_chat(page: Any, base: str, shot: Shots) -> None:
    page.goto(f"{base}/app.html#/usage")
    for _ in range(30):  # the gateway flushes its meter every 2 s
        page.reload()
        page.wait_for_selector("#usage-total")
        if not page.inner_text("#usage-total").startswith("0 "):
            break
        page.wait_for_timeout(1000)
    assert re.match(r"[1-9][\d,]* tokens", page.inner_text("#usage-total"))
    assert page.locator(".chart svg rect").count() >= 1
    shot("usage")


def _revoke_key(page: Any) -> None:
    page.get_by_role("link", name="API keys").click()
    page.get_by_role("button", name="Revoke browser").click()
    page.click("dialog button[type=submit]")
    page.wait_for_selector("tr[data-key=browser]", state="detached")


def _refusal_rolls_back(page: Any, row: Any) -> None:
    """The row shows the stop at once; when the API refuses, it is put back with a notice."""
    refusal = {"error": {"code": "busy", "message": "The agent is busy; try again", "field": None}}
    page.route("**/api/deployments/*/stop", lambda route: route.fulfill(
        status=409, json=refusal, headers={"Access-Control-Allow-Origin": "*"}))
    row.locator("button[data-action=stop]").click()
    page.wait_for_selector(".notice.error:has-text('The agent is busy')")
    row.locator(".status[data-status=running]").wait_for()
    page.unroute("**/api/deployments/*/stop")


def _delete(page: Any, base: str, name: str, shot: Shots) -> None:
    page.goto(f"{base}/app.html#/deployments")
    row = page.locator(f"tr[data-deployment='{name}']")
    row.locator("button[data-action=delete]").click()
    confirm = page.locator("dialog button[type=submit]")
    assert confirm.is_disabled()
    page.fill("#confirm-text", name[:-1])
    assert confirm.is_disabled()
    page.fill("#confirm-text", name)
    shot("delete-confirm")
    confirm.click()
    row.wait_for(state="detached", timeout=DEPLOY_MS)
    page.wait_for_selector("text=No deployments yet")
    shot("dashboard-after-delete")


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_sign_up_deploy_chat_and_delete(context: Any, up: UpProcess, screenshots: Path,
                                        viewport: str) -> None:
    page = context.new_page()
    page.set_viewport_size(VIEWPORTS[viewport])
    errors = _errors(page)
    shot = Shots(page, screenshots, viewport)
    name = f"tiny-{viewport}"
    _sign_up_and_log_in(page, up.base_url, f"{viewport}@example.com", shot)
    _estimate_follows_the_slider(page, shot)
    row = _deploy(page, name, shot)
    row.locator("[data-copy=endpoint]").click()
    endpoint = row.locator("code.endpoint").inner_text()
    # The gateway, never the runtime's own address: keys, limits and metering apply.
    assert endpoint == f"{up.base_url}/v1" and _clipboard(page) == endpoint
    if viewport == "phone":  # nothing wider than the screen
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    _refusal_rolls_back(page, row)
    key = _create_key(page, shot)
    _chat(page, name, key, shot)
    _usage_counts_the_chat(page, up.base_url, shot)
    _revoke_key(page)
    _delete(page, up.base_url, name, shot)
    assert errors == []


def test_logged_out_visitors_go_to_login_and_come_back(context: Any, up: UpProcess,
                                                        screenshots: Path) -> None:
    Api(up.base_url, register=True)  # e2e@example.com
    page = context.new_page()
    page.goto(f"{up.base_url}/app.html#/keys")
    page.wait_for_url("**/login.html?next=*")
    page.fill("#email", "e2e@example.com")
    page.fill("#password", STRONG_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/app.html#/keys")
    page.wait_for_selector("#key-form")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login.html")
    page.goto(f"{up.base_url}/app.html#/usage")
    page.wait_for_url("**/login.html?next=*")
    page.screenshot(path=screenshots / "logged-out-redirect.png")


def test_another_users_deployment_is_not_found(context: Any, up: UpProcess,
                                               screenshots: Path) -> None:
    owner = httpx.Client(base_url=up.base_url, timeout=30)
    account = {"email": "owner@example.com", "password": STRONG_PASSWORD}
    assert owner.post("/api/auth/register", json=account).status_code == 201
    token = owner.post("/api/auth/login", json=account).json()["access_token"]
    owner.headers["Authorization"] = f"Bearer {token}"
    created = owner.post("/api/deployments", json={
        "name": "private", "model": "local/tiny", "context_size": 256, "cloud": "local"})
    assert created.status_code == 202, created.text
    page = context.new_page()
    page.goto(f"{up.base_url}/signup.html")
    page.fill("#email", "intruder@example.com")
    page.fill("#password", STRONG_PASSWORD)
    page.fill("#confirm", STRONG_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/login.html?*")
    page.fill("#password", STRONG_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/app.html")
    page.goto(f"{up.base_url}/app.html#/deployments/{created.json()['id']}")
    page.wait_for_selector("h1:text('Deployment not found')")
    assert "private" not in page.inner_text("main")
    page.screenshot(path=screenshots / "not-found.png")
    assert owner.delete(f"/api/deployments/{created.json()['id']}").status_code == 202


def _signed_in_page(context: Any, base: str, email: str) -> Any:
    account = {"email": email, "password": STRONG_PASSWORD}
    assert httpx.post(f"{base}/api/auth/register", json=account).status_code == 201
    page = context.new_page()
    page.goto(f"{base}/login.html")
    page.fill("#email", email)
    page.fill("#password", STRONG_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/app.html")
    page.wait_for_selector("text=No deployments yet")
    return page


def test_an_expired_access_token_is_refreshed_without_a_new_login(context: Any,
                                                                  up: UpProcess) -> None:
    page = _signed_in_page(context, up.base_url, "patient@example.com")
    refreshes: list[int] = []
    page.on("response", lambda r: refreshes.append(r.status) if "/api/auth/refresh" in r.url
            else None)
    page.wait_for_timeout(31_000)  # the access token (30 s) expires; the dashboard keeps polling
    page.get_by_role("link", name="API keys").click()
    page.wait_for_selector("#key-form")
    assert "app.html" in page.url
    assert refreshes and all(status == 200 for status in refreshes)


def test_a_tab_opened_from_the_app_shares_the_session_safely(context: Any,
                                                            up: UpProcess) -> None:
    first = _signed_in_page(context, up.base_url, "tabs@example.com")
    with context.expect_page() as opened:
        first.evaluate("window.open('app.html#/keys')")  # copies this tab's sessionStorage
    second = opened.value
    second.wait_for_selector("#key-form")  # it rotated the shared refresh token on load
    first.reload()  # and the first tab was told: no replay of the old token, no logout
    first.wait_for_selector("text=No deployments yet")
    second.reload()
    second.wait_for_selector("#key-form")
    assert "login.html" not in first.url + second.url


def _first_mail(outbox: Path) -> bytes:
    """The first message the outbox worker writes (it sends queued mail every ~2 s)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        files = sorted(outbox.glob("*.eml")) if outbox.is_dir() else []
        if files:
            return files[0].read_bytes()
        time.sleep(0.1)
    raise AssertionError("no mail reached the outbox")


def test_password_reset_by_the_emailed_link(context: Any, up: UpProcess,
                                            screenshots: Path) -> None:
    account = {"email": "forgetful@example.com", "password": STRONG_PASSWORD}
    assert httpx.post(f"{up.base_url}/api/auth/register", json=account).status_code == 201
    page = context.new_page()
    page.goto(f"{up.base_url}/login.html")
    page.get_by_role("link", name="Forgot your password?").click()
    page.fill("#email", account["email"])
    page.click("#request-form button[type=submit]")
    page.wait_for_selector("#request-done:has-text('reset link')")
    page.screenshot(path=screenshots / "reset-request.png", full_page=True)
    raw = _first_mail(up.data_dir / "outbox")
    mail = email.message_from_bytes(raw, policy=email.policy.default).get_body().get_content()
    link = re.search(r"http://\S+/reset\.html\?token=\S+", mail)
    assert link is not None, mail
    page.goto(link.group(0))
    new_password = "an entirely new passphrase 42"
    page.fill("#new_password", new_password)
    page.fill("#confirm", new_password)
    page.screenshot(path=screenshots / "reset-confirm.png", full_page=True)
    page.click("#confirm-form button[type=submit]")
    page.wait_for_url("**/login.html?reset=1")
    page.fill("#email", account["email"])
    page.fill("#password", new_password)
    page.click("button[type=submit]")
    page.wait_for_url("**/app.html")


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter((el) => el.type !== 'hidden' && !el.closest('[hidden]'))
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                  && !(el.tagName === 'BUTTON' && el.textContent.trim()))
  .map((el) => el.outerHTML.slice(0, 80))"""


def test_every_control_is_labelled_and_focus_is_visible(context: Any, up: UpProcess) -> None:
    page = _signed_in_page(context, up.base_url, "a11y@example.com")
    for path in ("index.html", "signup.html", "login.html", "reset.html", "app.html#/new",
                 "app.html#/keys", "app.html#/usage", "app.html#/deployments"):
        page.goto(f"{up.base_url}/{path}")
        page.wait_for_load_state("networkidle")
        assert page.evaluate(UNLABELLED) == [], path
    page.goto(f"{up.base_url}/login.html")
    page.keyboard.press("Tab")  # the first stop is the skip link, and it shows its focus
    focused = page.evaluate("""() => { const el = document.activeElement;
        const style = getComputedStyle(el);
        return [el.textContent, style.outlineStyle, style.outlineWidth]; }""")
    assert focused[0] == "Skip to content" and focused[1] == "solid" and focused[2] == "3px"
