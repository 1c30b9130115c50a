"""The dashboard in a real browser: Playwright driving Debian's chromium (/usr/bin/chromium,
installed by `.ci/run` through apt; never a browser downloaded at run time) against the
bridge served by werkzeug in a thread, with a real Celery worker making the changes in the
Buffer sandbox. Marked `browser`; skipped without chromium or Playwright, except in CI
(BRIDGE_REQUIRE_SERVICES=1), where that is a failure."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from bridge import auth, schedules
from tests.conftest import DOCS_PROFILE, REQUIRE_SERVICES
from tests.conftest import UI_SECRET_KEY as SECRET

pytestmark = [pytest.mark.browser, pytest.mark.integration]
CHROMIUM = os.environ.get("BRIDGE_CHROMIUM", "/usr/bin/chromium")
TIMEOUT_MS = 20_000


def _unavailable() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (make test installs it from uv.lock)"
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    why = _unavailable()
    if why is not None:
        if REQUIRE_SERVICES:
            pytest.fail(f"browser tests must run in CI: {why}")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def extra_settings() -> dict[str, str]:
    return {"SECRET_KEY": SECRET}


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    yield opened
    context.close()


def sign_in(page: Any, base: str, token: str) -> None:
    page.goto(f"{base}/ui/profiles")
    assert "/ui/signin" in page.url
    page.get_by_label("Client token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/ui/profiles$"))


def test_sign_in_and_read_the_week_grid(page, live_server, api_token, services):
    sign_in(page, live_server, api_token)
    cards = page.locator("article.profile")
    assert cards.count() == 5
    with services.db.session() as session:
        from bridge import profiles

        profile = profiles.resolve(session, DOCS_PROFILE)
        week = profiles.week_of(profile)
        name = profiles.label(profile)
    card = page.locator("article.profile", has=page.get_by_role("link", name=name))
    table = card.get_by_role("table")
    day = next(d for d in schedules.DAYS if week[d])
    time = week[day][0]
    row = table.get_by_role("row").filter(has=page.get_by_role("rowheader", name=time))
    assert row.count() == 1
    assert "v1 retires on" in page.locator(".banner").first.inner_text()
    page.get_by_label("Search by name").fill("no-such-profile")
    page.get_by_role("button", name="Filter").click()
    assert page.get_by_text("No profile matches.").is_visible()


def test_a_one_time_link_signs_in_once(page, live_server, services):
    from bridge import signin

    with services.db.session() as session:
        client, _token = auth.create_client(session, "linked")
        session.flush()
        code = signin.issue(services, client)
    page.goto(f"{live_server}/ui/login/{code}")
    page.get_by_role("button", name="Sign in as linked").click()
    page.wait_for_url(re.compile(r".*/ui/profiles$"))
    assert "linked" in page.locator(".who").inner_text()
    again = page.context.browser.new_context()
    other = again.new_page()
    answer = other.goto(f"{live_server}/ui/login/{code}")
    assert answer is not None
    assert answer.status == 401 and "used already" in other.content()
    again.close()


def test_restore_a_snapshot_and_watch_the_job_succeed(
    page, live_server, api_token, history, buffer_sandbox, celery_worker
):
    before = buffer_sandbox.sandbox.schedules(DOCS_PROFILE)
    sign_in(page, live_server, api_token)
    page.goto(f"{live_server}/ui/profiles/{DOCS_PROFILE}")
    assert page.get_by_text("external change in Buffer").is_visible()
    page.get_by_role("link", name="Restore this week…").click()
    page.get_by_role("button", name="Yes, restore this week").click()
    page.wait_for_url(re.compile(r"/ui/jobs/\d+$"))
    from playwright.sync_api import expect

    # the page polls the job (no reload) until it ends; the strict CSP forbids eval, so
    # the wait is Playwright's own
    expect(page.locator("[data-field=status]")).to_have_text("succeeded", timeout=TIMEOUT_MS)
    assert page.get_by_role("status").inner_text().startswith("Done")
    after = buffer_sandbox.sandbox.schedules(DOCS_PROFILE)
    assert after != before
    assert schedules.from_buffer(after) != schedules.from_buffer(before)


def test_a_read_only_client_sees_no_buttons(page, live_server, services, history):
    with services.db.session() as session:
        _client, token = auth.create_client(session, "viewer", read_only=True)
    sign_in(page, live_server, token)
    page.goto(f"{live_server}/ui/profiles/{DOCS_PROFILE}")
    assert page.get_by_text("read-only").is_visible()
    assert page.get_by_role("link", name=re.compile("Restore")).count() == 0
    assert page.locator("main button, main .button").count() == 0


def test_a_forged_csrf_token_is_refused(page, live_server, api_token):
    sign_in(page, live_server, api_token)
    page.evaluate(
        "document.querySelectorAll('input[name=csrf_token]').forEach(i => i.value = 'forged')"
    )
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    assert "CSRF" in page.locator("main").inner_text()
    page.goto(f"{live_server}/ui/profiles")
    assert page.url.endswith("/ui/profiles")  # still signed in: nothing was done


def test_readable_on_a_phone(browser, live_server, api_token):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    sign_in(page, live_server, api_token)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    context.close()
