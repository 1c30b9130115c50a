"""The dashboard's kept-week pieces: the coming slots with their posts, the settings form
(only for clients that may write), refusals in plain words."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bridge import auth, sync
from tests.posting.conftest import DOCS_PROFILE, KEY

SECRET_KEY = "test-secret-key-0123456789abcdefghijklmnop"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGE = f"/ui/profiles/{DOCS_PROFILE}"


@pytest.fixture
def extra_settings(buffer_sandbox: Any) -> dict[str, str]:
    return {
        "SECRET_KEY": SECRET_KEY,
        "BUFFER_ACCESS_TOKEN": "",
        "BUFFER_API_KEY": KEY,
        "BUFFER_GRAPHQL_URL": f"{buffer_sandbox.root_url}graphql",
    }


def csrf_of(page: Any) -> str:
    found = CSRF.search(page.get_data(as_text=True))
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


def signed_in(client: Any, services: Any, **options: Any) -> Any:
    with services.db.session() as session:
        _client, token = auth.create_client(session, f"ui-{len(options)}", **options)
    field = csrf_of(client.get("/ui/signin"))
    assert client.post("/ui/signin", data={"token": token, "csrf_token": field}).status_code == 303
    return client


def test_a_kept_week_shows_its_slots_with_posts_or_free(client, services, auth_headers):
    client.put(
        "/v1/profiles/@skinnyoteam/schedules",
        json={"schedules": [{"days": "daily", "times": ["09:00"]}]},
        headers=auth_headers,
    )
    sync.sync_profile(services, DOCS_PROFILE)
    client.post(
        "/v1/profiles/@skinnyoteam/posts", json={"text": "On the dashboard"}, headers=auth_headers
    )
    sync.sync_profile(services, DOCS_PROFILE)
    page = signed_in(client, services).get(PAGE)
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "kept by the bridge" in text and "Coming slots" in text
    assert "On the dashboard" in text and "<em>free</em>" in text
    assert "bridge mode." in text  # the account banner says what the mode does


def test_the_settings_form_changes_them(client, services):
    ui = signed_in(client, services)
    form = csrf_of(ui.get(PAGE))
    saved = ui.post(
        f"{PAGE}/settings",
        data={
            "csrf_token": form,
            "schedule_mode": "bridge",
            "adopt_queue": "on",
            "min_gap_minutes": "15",
            "excluded_dates": "2026-12-25\n2027-01-01",
        },
    )
    assert saved.status_code == 303
    text = ui.get(PAGE).get_data(as_text=True)
    assert "minimum gap 15 min" in text and "2026-12-25, 2027-01-01" in text


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("min_gap_minutes", "lots", "minimum gap between posts"),
        ("excluded_dates", "christmas", "dates without posts"),
    ],
)
def test_bad_settings_say_which_field(client, services, field, value, says):
    ui = signed_in(client, services)
    form = csrf_of(ui.get(PAGE))
    refused = ui.post(f"{PAGE}/settings", data={"csrf_token": form, field: value})
    assert refused.status_code == 422
    assert says in refused.get_data(as_text=True)


def test_a_read_only_client_gets_no_form_and_no_change(client, services):
    ui = signed_in(client, services, read_only=True)
    page = ui.get(PAGE).get_data(as_text=True)
    assert "Save settings" not in page
    form = csrf_of(ui.get("/ui/profiles"))  # the sign-out form carries the token
    refused = ui.post(f"{PAGE}/settings", data={"csrf_token": form, "schedule_mode": "bridge"})
    assert refused.status_code == 403
