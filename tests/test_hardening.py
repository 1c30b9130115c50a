"""Issue 9 (the outside review): each finding a test that failed before its fix.

Item numbers are the issue's. Parsers are checked for their results (against the old,
backtracking reference on short inputs) and for raising nothing but InvalidSchedule on
long adversarial inputs; their speed is measured by bench/parsers.py, not here.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, text

from bridge import auth, catalog, commands, models, profiles, schedule_grammar, snapshots
from bridge.errors import InvalidInput, InvalidSchedule
from bridge.migrate import alembic_config, upgrade
from tests.conftest import DOCS_PROFILE, PATCH_URL, SLACK_SECRET

OTHER_PROFILE = "596201eff3a433127f892d29"  # instagram:sunnygarden
UNKNOWN_PROFILE = "0123456789abcdef01234567"


@pytest.fixture
def extra_settings() -> dict[str, str]:
    return {"SLACK_SIGNING_SECRET": SLACK_SECRET}


def warm_cache(services: Any) -> None:
    """The profile cache filled from the sandbox, with no snapshots left behind."""
    for account in services.settings.account_names():
        snapshots.take_account(services, account)
    with services.db.session() as session:
        session.execute(delete(models.Snapshot))


def make_client(services: Any, name: str, **options: Any) -> dict[str, str]:
    with services.db.session() as session:
        _client, token = auth.create_client(session, name, **options)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def scoped(services: Any) -> dict[str, str]:
    """Headers of a client scoped to @skinnyoteam alone."""
    warm_cache(services)
    return make_client(services, "only-docs", profile_refs=["@skinnyoteam"])


# --- 1. parsers linear, caps, authentication before the body ----------------------------

_OLD_RANGE_JOIN = re.compile(
    r"\s*(?:-|\u2013|\u2014|\bto\b|\bthrough\b|\bthru\b)\s*", re.IGNORECASE
)


def old_parse_days(value: str) -> tuple[str, ...]:
    """The days parser as it was (quadratic in whitespace): the reference for short input."""
    joined = _OLD_RANGE_JOIN.sub("-", value.strip())
    chosen: set[str] = set()
    for token in schedule_grammar._SPLIT.split(joined):
        if token and token.lower() not in schedule_grammar._CONJUNCTIONS:
            chosen.update(schedule_grammar._day_token(token, "days"))
    if not chosen:
        raise InvalidSchedule("no days given", field="days")
    return tuple(d for d in schedule_grammar.DAYS if d in chosen)


DAY_PIECES = st.sampled_from(
    [
        "mon", "Fri", "sun", "weekdays", "tues", "Mondays", "to", "TO", "thru", "through",
        "-", "\u2013", "\u2014", " ", "  ", "\t", "\n", "\u3000", ",", ";", "&", "+", "and",
        ".", "x", "_", "9", "tomorrow", "auto", "ton", "é",
    ]
)  # fmt: skip


def outcome(parse: Any, value: Any) -> Any:
    try:
        return parse(value)
    except InvalidSchedule:
        return InvalidSchedule


@given(st.lists(DAY_PIECES, max_size=12).map("".join))
def test_days_parser_gives_the_old_results(value: str) -> None:
    assert outcome(schedule_grammar.parse_days, value) == outcome(old_parse_days, value)


ADVERSARIAL = st.one_of(
    st.builds(lambda n, tail: "mon" + " " * n + tail, st.integers(0, 20_000), DAY_PIECES),
    st.builds(lambda n: "1" * n + ":00", st.integers(4_000, 20_000)),
    st.builds(lambda n: "9:" + "0" * n + "pm", st.integers(0, 20_000)),
    st.builds(lambda n, piece: piece * n, st.integers(0, 5_000), DAY_PIECES),
    st.text(max_size=300),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ADVERSARIAL)
def test_parsers_raise_only_invalid_schedule_on_adversarial_input(value: str) -> None:
    for parse in (schedule_grammar.parse_days, schedule_grammar.parse_times):
        with contextlib.suppress(InvalidSchedule):
            parse(value)
    with contextlib.suppress(commands.UsageError):
        commands.parse(value)
    with contextlib.suppress(InvalidInput):
        profiles.check_ref(value)


def test_a_huge_hour_is_invalid_not_a_crash() -> None:
    with pytest.raises(InvalidSchedule):
        schedule_grammar.parse_time("1" * 5000 + ":00")  # int() refuses > 4300 digits


def test_unauthenticated_body_is_never_parsed(client, monkeypatch) -> None:
    parsed: list[Any] = []
    monkeypatch.setattr(schedule_grammar, "parse_days", lambda *a, **k: parsed.append(a))
    body = {"days": "mon" + " " * 100 + "x", "times": ["09:00"]}
    for method in (client.patch, client.put):
        assert method(PATCH_URL, json=body).status_code == 401
    for hook in ("/hooks/zapier", "/hooks/ifttt", "/hooks/signed", "/hooks/zapier/bb_wrong"):
        assert client.post(hook, json={"profile": "@x", **body}).status_code == 401, hook
    assert parsed == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"days": "mon" + " " * 300 + "fri", "times": ["09:00"]}, "days"),
        ({"days": ["mon"] * 51, "times": ["09:00"]}, "days"),
        ({"days": "mon", "times": ["09:00"] * 101}, "times"),
        ({"days": "mon", "times": ["09:00" + " " * 40]}, "times"),
        ({"days": "mon", "times": "9am, " * 250}, "times"),
    ],
)
def test_schema_caps_are_422_naming_the_field(client, auth_headers, body, field) -> None:
    response = client.patch(PATCH_URL, json=body, headers=auth_headers)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    zap = client.post(
        "/hooks/zapier", json={"profile": "@skinnyoteam", **body}, headers=auth_headers
    )
    assert zap.status_code == 422 and field in zap.get_json()["errors"]


def test_slack_mentions_are_read_linearly() -> None:
    from bridge.hooks.slack import plain_text

    assert plain_text("<@U1|brand> hi <@U2|x <@U3|y>") == "@brand hi <@U2|x @y"


# --- 6. a chunked body over the limit ----------------------------------------------------


def test_chunked_body_over_the_limit_is_413(client, auth_headers) -> None:
    form = "profile=@skinnyoteam&days=mon&times=9am&pad=" + "x" * 70_000 + "&days=tue"
    response = client.post(
        "/hooks/zapier",
        input_stream=io.BytesIO(form.encode()),
        content_type="application/x-www-form-urlencoded",
        headers={**auth_headers, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413, response.get_json()
    small = client.post(
        "/hooks/zapier",
        input_stream=io.BytesIO(b"profile=@skinnyoteam&days=mon&times=9am"),
        content_type="application/x-www-form-urlencoded",
        headers={**auth_headers, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert small.status_code == 202, small.get_json()


# --- 7. scopes are profile ids ------------------------------------------------------------


def test_scopes_are_stored_as_ids_and_a_later_namesake_stays_out(client, services, scoped):
    with services.db.session() as session:
        stored = auth.by_name(session, "only-docs").profiles
        profiles.ensure_accounts(session, services.settings)
        session.add(
            models.Profile(
                id="f" * 24, account="default", service="facebook", service_username="skinnyoteam"
            )
        )
    assert stored == [DOCS_PROFILE]
    listed = client.get("/v1/profiles", headers=scoped).get_json()["profiles"]
    assert [p["id"] for p in listed] == [DOCS_PROFILE]
    assert client.get(f"/v1/profiles/{'f' * 24}", headers=scoped).status_code == 404


def test_a_scope_that_names_no_profile_is_refused(services) -> None:
    warm_cache(services)
    with services.db.session() as session, pytest.raises(InvalidInput, match="@ghost") as error:
        auth.create_client(session, "ghostly", ["@skinnyoteam", "@ghost"])
    assert error.value.field == "profiles"


def test_migration_resolves_scope_names_it_can(unmigrated_database_url: str) -> None:
    from alembic import command

    from bridge.db import Database

    url = unmigrated_database_url
    upgrade(url, "0002")
    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO accounts (name, token_var, created_at)"
                " VALUES ('default', 'T', CURRENT_TIMESTAMP)"
            )
        )
        cached = [(DOCS_PROFILE, "twitter", "skinnyoteam"), ("a" * 24, "x", "twin")]
        for pid, service, user in [*cached, ("b" * 24, "y", "twin")]:
            conn.execute(
                text(
                    "INSERT INTO profiles (id, account, service, service_username,"
                    " formatted_username, timezone, schedules, data, seen_at) VALUES"
                    " (:i, 'default', :s, :u, '', '', '[]', '{}', CURRENT_TIMESTAMP)"
                ),
                {"i": pid, "s": service, "u": user},
            )
        conn.execute(
            text(
                "INSERT INTO api_clients (name, token_hash, profiles, read_only, created_at)"
                " VALUES ('old', 'h', :p, false, CURRENT_TIMESTAMP)"
            ),
            {"p": '["@SkinnyOTeam", "twitter:ghost", "@twin", "BBBBBBBBBBBBBBBBBBBBBBBB"]'},
        )
    db.dispose()
    command.upgrade(alembic_config(url), "0003")
    db = Database(url)
    with db.engine.connect() as conn:  # raw SQL: the models describe the newest schema
        stored = conn.execute(text("SELECT profiles FROM api_clients WHERE name = 'old'"))
        scopes = stored.scalar()
    db.dispose()
    scopes = json.loads(scopes) if isinstance(scopes, str) else scopes
    assert scopes == [DOCS_PROFILE, "twitter:ghost", "@twin", "b" * 24]


def test_clients_list_shows_scope_ids(runner, services, buffer_sandbox, database_url) -> None:
    from bridge.cli import main
    from tests.conftest import SANDBOX_TOKEN

    env = {
        "BUFFER_API_URL": buffer_sandbox.url,
        "BUFFER_ACCESS_TOKEN": SANDBOX_TOKEN,
        "DATABASE_URL": database_url,
        "BUFFER_TIMEOUT": "2,5",
    }
    created = runner.invoke(
        main, ["clients", "create", "zap", "--profiles", "@skinnyoteam"], env=env
    )
    assert created.exit_code == 0, created.output
    listed = runner.invoke(main, ["clients", "list"], env=env).output
    assert DOCS_PROFILE in listed and "twitter:skinnyoteam" in listed
    ghost = runner.invoke(main, ["clients", "create", "z2", "--profiles", "@ghost"], env=env)
    assert ghost.exit_code == 1 and "@ghost" in ghost.output


# --- 8. answers cut to the caller's scope -------------------------------------------------


def test_waited_snapshot_lists_only_profiles_in_scope(client, services, scoped, celery_worker):
    body = {"action": "snapshot", "profile": "@skinnyoteam"}
    response = client.post("/hooks/zapier?wait=10", json=body, headers=scoped)
    assert response.status_code == 200, response.get_json()
    result = response.get_json()["result"]
    assert result["changed"] == [DOCS_PROFILE]
    assert result["profiles"] == 1
    assert "of 1 profiles" in response.get_json()["outcome"]


# --- 9. parse-side 500s -------------------------------------------------------------------


def test_deeply_nested_json_is_400(client, auth_headers) -> None:
    deep = "[" * 30_000
    rest = client.patch(PATCH_URL, data=deep, content_type="application/json", headers=auth_headers)
    assert rest.status_code == 400, rest.get_json()
    assert "nests deeper" in rest.get_json()["message"]
    for hook in ("/hooks/zapier", "/hooks/ifttt"):
        answer = client.post(hook, data=deep, content_type="application/json", headers=auth_headers)
        assert answer.status_code == 400, (hook, answer.get_json())
    typed = client.post("/hooks/ifttt", data=deep, content_type="text/plain", headers=auth_headers)
    assert typed.status_code == 400
    nested_ok = {"days": "mon", "times": ["09:00"], "schedule": {"profile": "@skinnyoteam"}}
    assert client.post("/hooks/zapier", json=nested_ok, headers=auth_headers).status_code == 202


@pytest.mark.parametrize("ref", ["@sk\x00inny", "twitter:a\x00b", "\x00"])
def test_nul_in_a_profile_ref_is_422_before_any_query(client, auth_headers, ref) -> None:
    with pytest.raises(InvalidInput):
        profiles.check_ref(ref)
    response = client.get(f"/v1/profiles/{ref}", headers=auth_headers)
    assert response.status_code == 422 and "profile" in response.get_json()["errors"]
    zap = client.post(
        "/hooks/zapier", json={"profile": ref, "days": "mon", "times": "9am"}, headers=auth_headers
    )
    assert zap.status_code == 422


def test_non_ascii_slack_signature_is_401(client) -> None:
    import time

    response = client.post(
        "/chat/slack",
        data="team_id=T1&text=help",
        content_type="application/x-www-form-urlencoded",
        headers={
            "X-Slack-Signature": "v0=\u00e9\u00e9",
            "X-Slack-Request-Timestamp": str(int(time.time())),
        },
    )
    assert response.status_code == 401, response.get_json()


# --- 12. out of scope answers as unknown -------------------------------------------------


def _messages(responses: Iterable[Any]) -> list[tuple[int, str]]:
    return [(r.status_code, r.get_json()["message"]) for r in responses]


def test_out_of_scope_is_404_like_unknown(client, services, scoped) -> None:
    change = {"days": "mon", "times": ["09:00"]}
    for ref in (OTHER_PROFILE, UNKNOWN_PROFILE):
        answers = [
            client.get(f"/v1/profiles/{ref}", headers=scoped),
            client.get(f"/v1/profiles/{ref}/schedules", headers=scoped),
            client.patch(f"/v1/profiles/{ref}/schedules", json=change, headers=scoped),
            client.get(f"/v1/profiles/{ref}/history", headers=scoped),
            client.get(f"/v1/snapshots?profile={ref}", headers=scoped),
            client.post("/hooks/zapier", json={"profile": ref, **change}, headers=scoped),
        ]
        assert _messages(answers) == [(404, f"unknown profile {ref!r}")] * len(answers), ref
    reader = make_client(services, "reader", read_only=True)
    denied = client.patch(PATCH_URL, json=change, headers=reader)
    assert denied.status_code == 403 and "read-only" in denied.get_json()["message"]


def test_out_of_scope_is_unknown_in_chat(client, services) -> None:
    warm_cache(services)
    with services.db.session() as session:
        auth.create_client(session, "mm", ["@skinnyoteam"], mattermost_token="tok")
    said = [
        client.post("/chat/mattermost", data={"token": "tok", "text": f"show {ref}"}).get_json()
        for ref in (OTHER_PROFILE, UNKNOWN_PROFILE)
    ]
    assert said[0]["text"] == f"Sorry: unknown profile {OTHER_PROFILE!r}"
    assert said[1]["text"] == f"Sorry: unknown profile {UNKNOWN_PROFILE!r}"


# --- 13. scope filtered before the limit -------------------------------------------------


def test_scoped_snapshot_page_is_filtered_in_sql(client, services, scoped) -> None:
    with services.db.session() as session:
        from bridge import schedules

        mine = snapshots.record(session, DOCS_PROFILE, schedules.empty_week(), "periodic")
        for _ in range(3):
            snapshots.record(session, OTHER_PROFILE, schedules.empty_week(), "periodic")
        mine_id = mine.id
    page = client.get("/v1/snapshots?limit=1", headers=scoped).get_json()
    assert [s["id"] for s in page["snapshots"]] == [mine_id]
    assert page["next_before"] is None
    with services.db.session() as session:
        client_row = auth.by_name(session, "only-docs")
    assert catalog.visible_ids(services, client_row) == [DOCS_PROFILE]


def test_scoped_job_page_is_filtered_in_sql(client, services, scoped, auth_headers) -> None:
    mine = client.patch(PATCH_URL, json={"days": "mon", "times": ["09:00"]}, headers=auth_headers)
    for _ in range(3):
        client.patch(
            f"/v1/profiles/{OTHER_PROFILE}/schedules",
            json={"days": "mon", "times": ["09:00"]},
            headers=auth_headers,
        )
    page = client.get("/v1/jobs?limit=1", headers=scoped).get_json()
    assert [j["job_id"] for j in page["jobs"]] == [mine.get_json()["job_id"]]
    assert page["next_before"] is None
