"""The dashboard (/ui) through Flask's test client: every page, every refusal, sessions,
CSRF, scopes and the read-only rule. The browser tests (test_ui_browser.py) drive the same
pages in chromium."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bridge import auth, create_app, models, signin, snapshots
from bridge.config import load_settings
from bridge.errors import ConfigError
from tests.conftest import DOCS_PROFILE, csrf_of, sign_in
from tests.conftest import UI_SECRET_KEY as SECRET


@pytest.fixture
def extra_settings() -> dict[str, str]:
    return {"SECRET_KEY": SECRET}


def make_client(services: Any, name: str, **options: Any) -> str:
    with services.db.session() as session:
        _client, token = auth.create_client(session, name, **options)
    return token


@pytest.fixture
def signed_in(client: Any, api_token: str) -> Any:
    assert sign_in(client, api_token).status_code == 303
    return client


# ---- sessions ---------------------------------------------------------------------------


def test_ui_is_off_without_secret_key(settings, services):
    app = create_app(load_settings({"DATABASE_URL": settings.database_url}), services)
    answer = app.test_client().get("/ui/signin")
    assert answer.status_code == 503
    assert "SECRET_KEY" in answer.get_data(as_text=True)


def test_a_short_secret_key_stops_start_up():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({"SECRET_KEY": "short"})


def test_pages_send_a_signed_out_visitor_to_sign_in(client):
    for path in ("/ui/profiles", "/ui/jobs", "/ui/rotations", "/ui/deliveries", "/ui/jobs/1"):
        answer = client.get(path)
        assert answer.status_code == 302, path
        assert answer.headers["Location"].startswith("/ui/signin?next=")
    assert client.get("/ui/jobs/status.json?ids=1").status_code == 401


def test_sign_in_sets_a_safe_session_cookie(client, api_token):
    answer = sign_in(client, api_token)
    assert answer.status_code == 303 and answer.headers["Location"] == "/ui/profiles"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/ui" in cookie
    assert "Secure" not in cookie
    assert api_token not in cookie
    assert client.get("/ui/profiles").status_code == 200


def test_the_cookie_is_secure_over_https(app, api_token):
    client = app.test_client()
    page = client.get("/ui/signin", base_url="https://bridge.example")
    answer = client.post(
        "/ui/signin",
        data={"token": api_token, "csrf_token": csrf_of(page)},
        base_url="https://bridge.example",
    )
    assert answer.status_code == 303 and "Secure" in answer.headers["Set-Cookie"]


@pytest.mark.parametrize(
    ("token", "says"),
    [
        ("", "paste your client token"),
        ("bb_wrong", "not valid"),
        ("x" * 300, "at most 256"),
        ("bb_\x00", "printable"),
    ],
)
def test_a_bad_token_is_refused_saying_why(client, token, says):
    answer = sign_in(client, token)
    assert answer.status_code == 401
    assert says in answer.get_data(as_text=True)


def test_sign_in_without_the_csrf_token_is_refused(client, api_token):
    client.get("/ui/signin")
    answer = client.post("/ui/signin", data={"token": api_token})
    assert answer.status_code == 400
    assert "CSRF" in answer.get_data(as_text=True)
    assert client.get("/ui/profiles").status_code == 302


def test_next_goes_only_to_dashboard_pages(client, api_token):
    page = client.get("/ui/signin")
    for target, where in (
        ("/ui/jobs", "/ui/jobs"),
        ("https://evil.example/ui/", "/ui/profiles"),
        ("//evil.example/ui/", "/ui/profiles"),
        ("/v1/me", "/ui/profiles"),
    ):
        client.post("/ui/signout", data={"csrf_token": csrf_of(client.get("/ui/signin"))})
        page = client.get("/ui/signin")
        answer = client.post(
            "/ui/signin", data={"token": api_token, "csrf_token": csrf_of(page), "next": target}
        )
        assert answer.headers["Location"] == where, target


@pytest.mark.parametrize(
    "target",
    [
        "/ui/jobs\r\nSet-Cookie: bridge_ui=forged",
        "/ui/jobs\nX-Injected: 1",
        "/ui/jobs\x00",
        "/ui/jobs\t",
        "/ui/jobs\x7f",
        "/ui/jobs\x85",
        "/ui/jobs\u2028",
    ],
)
def test_control_characters_in_next_fall_back_to_profiles(client, api_token, target):
    """Issue 20, item 4: they gave a 500; now the safe default, and nothing injected."""
    page = client.get("/ui/signin", query_string={"next": target})
    assert page.status_code == 200
    answer = client.post(
        "/ui/signin", data={"token": api_token, "csrf_token": csrf_of(page), "next": target}
    )
    assert answer.status_code == 303 and answer.headers["Location"] == "/ui/profiles"
    assert "X-Injected" not in answer.headers and "forged" not in str(answer.headers)


def test_a_signed_out_visit_to_a_path_with_cr_lf_is_sent_to_sign_in(client):
    answer = client.get("/ui/jobs%0d%0aX-Injected:%201")
    assert answer.status_code in (302, 404) and "X-Injected" not in answer.headers


def test_sign_out_needs_csrf_and_ends_the_session(signed_in):
    assert signed_in.post("/ui/signout").status_code == 400
    assert signed_in.get("/ui/profiles").status_code == 200
    token = csrf_of(signed_in.get("/ui/profiles"))
    assert signed_in.post("/ui/signout", data={"csrf_token": token}).status_code == 303
    assert signed_in.get("/ui/profiles").status_code == 302


def test_sign_out_ends_a_copied_cookie_and_its_csrf_token(app, signed_in, api_token):
    """Issue 20, item 3: a cookie copied before sign-out is dead after it, CSRF token too."""
    csrf = csrf_of(signed_in.get("/ui/profiles"))
    copy = app.test_client()
    cookie = signed_in.get_cookie("bridge_ui", path="/ui")
    copy.set_cookie("bridge_ui", cookie.value, path="/ui")
    assert copy.get("/ui/profiles").status_code == 200  # the copy works while signed in
    assert signed_in.post("/ui/signout", data={"csrf_token": csrf}).status_code == 303
    assert copy.get("/ui/profiles").status_code == 302
    answer = copy.post("/ui/signout", data={"csrf_token": csrf})
    assert answer.status_code == 401 and "session has ended" in answer.get_data(as_text=True)
    assert sign_in(signed_in, api_token).status_code == 303
    assert signed_in.get("/ui/profiles").status_code == 200  # a new sign-in works again


def test_a_revoked_client_is_signed_out(signed_in, services):
    assert signed_in.get("/ui/profiles").status_code == 200
    with services.db.session() as session:
        auth.revoke(session, "tests")
    assert signed_in.get("/ui/profiles").status_code == 302


def follow_link(client: Any, code: str) -> Any:
    """Open a one-time link's page and press its button, as a person does."""
    page = client.get(f"/ui/login/{code}")
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(f"/ui/login/{code}", data={"csrf_token": csrf_of(page)})


def test_one_time_link_signs_in_once(client, services):
    make_client(services, "linked")
    with services.db.session() as session:
        code = signin.issue(services, auth.by_name(session, "linked"))
    answer = follow_link(client, code)
    assert answer.status_code == 303 and answer.headers["Referrer-Policy"] == "no-referrer"
    assert "linked" in client.get("/ui/profiles").get_data(as_text=True)
    again = services.redis.keys("bridge:ui-signin:*")
    assert again == []  # spent, and only a hash was ever stored
    other = create_app(services.settings, services).test_client()
    assert other.get(f"/ui/login/{code}").status_code == 401


def test_opening_a_link_never_spends_it(client, services):
    """Issue 20, item 2: a link preview (GET) or a HEAD must leave the link working."""
    make_client(services, "previewed")
    with services.db.session() as session:
        code = signin.issue(services, auth.by_name(session, "previewed"))
    preview = create_app(services.settings, services).test_client()
    assert preview.head(f"/ui/login/{code}").status_code == 200
    page = preview.get(f"/ui/login/{code}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    assert 'method="post"' in text and "Sign in as previewed" in text
    assert preview.get("/ui/profiles").status_code == 302  # looking signed nobody in
    assert follow_link(client, code).status_code == 303
    assert "previewed" in client.get("/ui/profiles").get_data(as_text=True)


def test_redeeming_a_link_needs_the_pages_csrf_token(client, services):
    make_client(services, "forced")
    with services.db.session() as session:
        code = signin.issue(services, auth.by_name(session, "forced"))
    client.get(f"/ui/login/{code}")
    answer = client.post(f"/ui/login/{code}")  # a cross-site form: no token
    assert answer.status_code == 400 and "CSRF" in answer.get_data(as_text=True)
    assert client.get("/ui/profiles").status_code == 302
    assert follow_link(client, code).status_code == 303  # the refused POST spent nothing


@pytest.mark.parametrize("code", ["nope", "x" * 200, "%00"])
def test_a_bad_link_is_refused(client, code):
    assert client.get(f"/ui/login/{code}").status_code == 401


def test_a_link_of_a_revoked_client_signs_nobody_in(client, services):
    make_client(services, "gone")
    with services.db.session() as session:
        code = signin.issue(services, auth.by_name(session, "gone"))
        auth.revoke(session, "gone")
    answer = client.get(f"/ui/login/{code}")
    assert answer.status_code == 401 and "revoked" in answer.get_data(as_text=True)


def test_pages_carry_security_headers(signed_in):
    answer = signed_in.get("/ui/profiles")
    assert "default-src 'self'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Cache-Control"] == "no-store"
    css = signed_in.get("/ui/static/ui.css")
    assert css.status_code == 200 and "text/css" in css.headers["Content-Type"]


# ---- profiles ----------------------------------------------------------------------------


def test_profiles_page_shows_every_week_as_a_grid(signed_in):
    page = signed_in.get("/ui/profiles").get_data(as_text=True)
    assert page.count('class="card profile"') == 5
    assert '<table class="week">' in page
    assert "Account <strong>default</strong>" in page
    assert "v1 retires on" in page  # the sunset banner
    assert 'class="on' in page


def test_profiles_filter_and_search(signed_in):
    page = signed_in.get("/ui/profiles").get_data(as_text=True)
    service = re.search(r'<option value="([a-z]+)" >', page)
    assert service
    only = signed_in.get(f"/ui/profiles?service={service.group(1)}").get_data(as_text=True)
    assert 0 < only.count('class="card profile"') <= 5
    none = signed_in.get("/ui/profiles?q=no-such-name").get_data(as_text=True)
    assert "No profile matches." in none


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("service=myspace", "unknown service"),
        ("account=other", "unknown account"),
        ("q=" + "a" * 101, "at most 100"),
    ],
)
def test_bad_filters_are_422_naming_them(signed_in, query, says):
    answer = signed_in.get(f"/ui/profiles?{query}")
    assert answer.status_code == 422 and says in answer.get_data(as_text=True)


def test_profile_page_shows_history_who_and_changes(signed_in, history):
    page = signed_in.get(f"/ui/profiles/{DOCS_PROFILE}").get_data(as_text=True)
    assert "external change in Buffer" in page and "first seen by the bridge" in page
    assert "<ins>07:15</ins>" in page
    assert f"/ui/profiles/{DOCS_PROFILE}/restore/{history}" in page


def test_unknown_profile_is_404(signed_in):
    assert signed_in.get("/ui/profiles/ffffffffffffffffffffffff").status_code == 404
    assert signed_in.get("/ui/profiles/not%20a%20ref").status_code == 422


def test_restore_asks_then_queues_a_job(signed_in, history, services):
    confirm = signed_in.get(f"/ui/profiles/{DOCS_PROFILE}/restore/{history}")
    assert confirm.status_code == 200 and "Yes, restore this week" in confirm.get_data(True)
    path = f"/ui/profiles/{DOCS_PROFILE}/restore/{history}"
    assert signed_in.post(path).status_code == 400  # no CSRF token
    assert signed_in.post(path, data={"csrf_token": "forged"}).status_code == 400
    answer = signed_in.post(path, data={"csrf_token": csrf_of(confirm)})
    assert answer.status_code == 303
    job_id = int(answer.headers["Location"].rsplit("/", 1)[1])
    with services.db.session() as session:
        job = session.get(models.Job, job_id)
        assert job.source == "ui" and job.client == "tests"
    page = signed_in.get(f"/ui/jobs/{job_id}").get_data(as_text=True)
    assert "queued" in page and 'data-status-url="/ui/jobs/status.json"' in page
    status = signed_in.get(f"/ui/jobs/status.json?ids={job_id}").get_json()
    assert status["jobs"][str(job_id)]["status"] == "queued"


def test_restore_of_another_profiles_snapshot_is_404(signed_in, history, services):
    with services.db.session() as session:
        other = next(p.id for p in session.query(models.Profile) if p.id != DOCS_PROFILE)
    token = csrf_of(signed_in.get("/ui/profiles"))
    answer = signed_in.post(f"/ui/profiles/{other}/restore/{history}", data={"csrf_token": token})
    assert answer.status_code == 404
    assert signed_in.get(f"/ui/profiles/{other}/restore/{history}").status_code == 404


# ---- read-only and scoped clients -------------------------------------------------------


def test_a_read_only_client_sees_no_buttons_and_is_refused(client, services, history):
    token = make_client(services, "viewer", read_only=True)
    assert sign_in(client, token).status_code == 303
    page = client.get(f"/ui/profiles/{DOCS_PROFILE}").get_data(as_text=True)
    assert "read-only" in page and "Restore" not in page
    assert client.get(f"/ui/profiles/{DOCS_PROFILE}/restore/{history}").status_code == 403
    csrf = csrf_of(client.get("/ui/profiles"))
    answer = client.post(
        f"/ui/profiles/{DOCS_PROFILE}/restore/{history}", data={"csrf_token": csrf}
    )
    assert answer.status_code == 403 and "read-only" in answer.get_data(as_text=True)


def test_a_scoped_client_sees_only_its_profiles_and_404_elsewhere(client, services, history):
    snapshots.take_account(services, "default")
    with services.db.session() as session:
        other = next(p.id for p in session.query(models.Profile) if p.id != DOCS_PROFILE)
    token = make_client(services, "scoped", profile_refs=[other])
    assert sign_in(client, token).status_code == 303
    page = client.get("/ui/profiles").get_data(as_text=True)
    assert page.count('class="card profile"') == 1 and other in page
    assert client.get(f"/ui/profiles/{DOCS_PROFILE}").status_code == 404
    assert client.get(f"/ui/jobs?profile={DOCS_PROFILE}").status_code == 404
    csrf = csrf_of(client.get("/ui/profiles"))
    denied = client.post(
        f"/ui/profiles/{DOCS_PROFILE}/restore/{history}", data={"csrf_token": csrf}
    )
    assert denied.status_code == 404


# ---- jobs --------------------------------------------------------------------------------


def test_jobs_page_lists_filters_and_hides_other_scopes(signed_in, services, api_token, client):
    headers = {"Authorization": f"Bearer {api_token}"}
    made = signed_in.patch(
        f"/v1/profiles/{DOCS_PROFILE}/schedules",
        json={"days": "mon", "times": ["9am"]},
        headers=headers,
    )
    assert made.status_code == 202
    job_id = made.get_json()["job_id"]
    page = signed_in.get("/ui/jobs").get_data(as_text=True)
    assert f'data-job="{job_id}"' in page and "REST API" in page
    assert f'data-job="{job_id}"' in signed_in.get("/ui/jobs?source=rest").get_data(True)
    assert f'data-job="{job_id}"' not in signed_in.get("/ui/jobs?source=zapier").get_data(True)
    assert f'data-job="{job_id}"' not in signed_in.get("/ui/jobs?status=failed").get_data(True)
    assert f'data-job="{job_id}"' in signed_in.get(f"/ui/jobs?profile={DOCS_PROFILE}").get_data(
        True
    )


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/ui/jobs?status=done", 422),
        ("/ui/jobs?source=myspace", 422),
        ("/ui/jobs/status.json?ids=1,x", 422),
        ("/ui/jobs/status.json?ids=" + ",".join(["1"] * 101), 422),
        ("/ui/jobs/99999", 404),
        ("/ui/jobs/99999999999999999999", 404),
    ],
)
def test_bad_job_requests_say_what_is_wrong(signed_in, path, status):
    assert signed_in.get(path).status_code == status


def test_a_failed_job_is_told_in_words(signed_in, services):
    with services.db.session() as session:
        job = models.Job(
            profile_id=DOCS_PROFILE,
            account="default",
            client="tests",
            source="zapier",
            kind="set",
            params={},
        )
        session.add(job)
        session.flush()
        job.start()
        job.fail("Invalid schedule", 400, 1004)
        job_id = job.id
    page = signed_in.get(f"/ui/jobs/{job_id}").get_data(as_text=True)
    assert "Buffer did not accept these schedules" in page and "Zapier" in page


# ---- rotations and deliveries -----------------------------------------------------------


def test_rotations_calendar_and_pause_resume(signed_in, api_token, services):
    headers = {"Authorization": f"Bearer {api_token}"}
    snapshots.take_account(services, "default")
    for name, days in (("weekday", "weekdays"), ("weekend", "sat-sun")):
        body = {"name": name, "schedules": [{"days": days, "times": ["10:00"]}]}
        assert signed_in.post("/v1/presets", json=body, headers=headers).status_code == 201
    plan = {
        "name": "brand-week",
        "profiles": [DOCS_PROFILE],
        "steps": [
            {"preset": "weekend", "at": "sat 00:00"},
            {"preset": "weekday", "at": "mon 06:00"},
        ],
    }
    assert signed_in.post("/v1/rotations", json=plan, headers=headers).status_code == 201
    page = signed_in.get("/ui/rotations")
    text = page.get_data(as_text=True)
    assert 'class="calendar"' in text and "weekend" in text and "Pause brand-week" in text
    answer = signed_in.post("/ui/rotations/brand-week/pause", data={"csrf_token": csrf_of(page)})
    assert answer.status_code == 303
    assert "Resume brand-week" in signed_in.get("/ui/rotations").get_data(as_text=True)
    assert signed_in.post("/ui/rotations/brand-week/pause").status_code == 400
    unknown = signed_in.post("/ui/rotations/nope/pause", data={"csrf_token": csrf_of(page)})
    assert unknown.status_code == 404


def _failed_delivery(services: Any, client_name: str) -> int:
    with services.db.session() as session:
        owner = auth.by_name(session, client_name)
        sub = models.EventSubscription(
            client_id=owner.id,
            kind="webhook",
            url="http://127.0.0.1:9/hook",
            events=["*"],
            secret="whsec_x",
        )
        event = models.Event(uid="evt_ui_test", type="job.failed", payload={})
        session.add_all([sub, event])
        session.flush()
        row = models.EventDelivery(
            event_id=event.id,
            subscription_id=sub.id,
            status=models.DELIVERY_FAILED,
            attempts=3,
            last_status=500,
            last_error="server error",
        )
        session.add(row)
        session.flush()
        return row.id


def test_deliveries_page_and_retry(signed_in, services):
    delivery_id = _failed_delivery(services, "tests")
    page = signed_in.get("/ui/deliveries")
    text = page.get_data(as_text=True)
    assert "job.failed" in text and "server error" in text and "Retry" in text
    assert signed_in.get("/ui/deliveries?status=nope").status_code == 422
    path = f"/ui/deliveries/{delivery_id}/retry"
    assert signed_in.post(path).status_code == 400
    assert signed_in.post(path, data={"csrf_token": csrf_of(page)}).status_code == 303
    with services.db.session() as session:
        assert session.get(models.EventDelivery, delivery_id).status == models.DELIVERY_PENDING
    missing = signed_in.post("/ui/deliveries/424242/retry", data={"csrf_token": csrf_of(page)})
    assert missing.status_code == 404


def test_someone_elses_delivery_is_404(client, services):
    make_client(services, "owner")
    delivery_id = _failed_delivery(services, "owner")
    token = make_client(services, "stranger")
    assert sign_in(client, token).status_code == 303
    page = client.get("/ui/deliveries")
    assert "job.failed" not in page.get_data(as_text=True)
    answer = client.post(f"/ui/deliveries/{delivery_id}/retry", data={"csrf_token": csrf_of(page)})
    assert answer.status_code == 404


def test_an_over_long_body_is_413_not_500(signed_in):
    csrf = csrf_of(signed_in.get("/ui/profiles"))
    answer = signed_in.post("/ui/signout", data={"csrf_token": csrf, "x": "y" * 70000})
    assert answer.status_code == 413


# ---- bridge dev ---------------------------------------------------------------------------


def test_bridge_dev_prints_the_dashboard_and_a_one_time_link():
    from bridge.devserver import banner

    text = banner(8000, "bb_token", True, signin_code="c0de")
    assert "http://127.0.0.1:8000/ui\n" in text
    assert "http://127.0.0.1:8000/ui/login/c0de" in text


def test_bridge_dev_keeps_one_secret_key_in_its_data_directory(tmp_path):
    import stat

    from bridge.devserver import DevSupervisor

    first = DevSupervisor(8000, tmp_path)
    first.env.pop("SECRET_KEY", None)
    first.env.pop("SECRET_KEY_FILE", None)
    first.secret_key()
    path = tmp_path / "secret_key"
    assert first.env["SECRET_KEY_FILE"] == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_text()
    again = DevSupervisor(8000, tmp_path)
    again.env.pop("SECRET_KEY", None)
    again.env.pop("SECRET_KEY_FILE", None)
    again.secret_key()
    assert path.read_text() == key and len(key) >= 32
    assert load_settings({"SECRET_KEY_FILE": str(path)}).secret_key == key


def test_a_sign_in_link_without_redis_is_503_not_500(client, services, monkeypatch):
    import redis as redis_lib

    def down(*_args: Any, **_kwargs: Any) -> Any:
        raise redis_lib.ConnectionError("down")

    page = client.get("/ui/signin")
    monkeypatch.setattr(services.redis, "pipeline", down)
    monkeypatch.setattr(services.redis, "get", down)
    answer = client.get("/ui/login/somecode")
    assert answer.status_code == 503 and "Redis" in answer.get_data(as_text=True)
    answer = client.post("/ui/login/somecode", data={"csrf_token": csrf_of(page)})
    assert answer.status_code == 503 and "Redis" in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    "extra_settings", [{"SECRET_KEY": SECRET, "BUFFER_V1_SUNSET": "2020-01-01"}]
)
def test_an_account_past_the_v1_sunset_says_it_cannot_write(signed_in):
    page = signed_in.get("/ui/profiles").get_data(as_text=True)
    assert "cannot change posting schedules" in page and "retired the v1 API" in page
