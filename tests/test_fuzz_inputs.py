"""Hypothesis on the parsers issue 13 lists that had no property test yet: rate-limit
strings; webhook bodies (JSON, form and plain text, so the chat grammar too) through
the Zapier, IFTTT and signed endpoints; days and times as the bridge and people write
them, read back. Days, times and the chat grammar on arbitrary text are in
test_hardening.py and test_commands.py.

The properties: a rate limit either parses to a positive, finite window or is a
ConfigError naming the variable, and every window renders to a string that parses back
to it; a webhook body gets 2xx, or a 4xx in the one error shape, a 400 or 422 naming
the field that is wrong; never a 5xx.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from bridge import auth, schedule_grammar, schedules
from bridge.config import RateLimit, parse_rate_limit, parse_rate_limits
from bridge.errors import ConfigError
from bridge.schedule_grammar import DAYS as DAY_NAMES

VAR = "BUFFER_RATE_LIMIT"
UNITS = {"": 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

# --- rate-limit strings ----------------------------------------------------------------

_NUMBER = st.one_of(
    st.integers(0, 10**12).map(str),
    st.text("0123456789", min_size=1, max_size=400),  # past float's range, int's 4300 digits
    st.builds(
        "{}.{}".format, st.text("0123456789", max_size=5), st.text("0123456789", max_size=400)
    ),
    st.sampled_from(["\u0663", "\uff16\uff10", "1e3", "-5", "+5", "0x10", "inf", "nan", " 6 "]),
)
_PIECES = st.one_of(_NUMBER, st.sampled_from([*UNITS, "/", ",", " ", "\n", "\t", "per", "sec"]))
RATE_TEXT = st.one_of(
    st.text(max_size=40),
    st.lists(_PIECES, max_size=6).map("".join),
    st.builds("{}/{}{}".format, _NUMBER, _NUMBER, st.sampled_from(list(UNITS))),
)


def _sane(window: RateLimit) -> None:
    assert isinstance(window.limit, int) and window.limit >= 1
    assert isinstance(window.period, float) and 0 < window.period < math.inf


@settings(max_examples=400, deadline=None)
@given(RATE_TEXT)
@example("9" * 5000 + "/60s")  # more digits than int() reads
@example("60/" + "9" * 400)  # a period past float's range
@example("60/0." + "0" * 320 + "5ms")  # a period that rounds to 0 s
def test_a_rate_limit_string_is_a_positive_window_or_a_config_error(value: str) -> None:
    try:
        window = parse_rate_limit(VAR, value)
    except ConfigError as error:
        assert error.message.startswith(f"{VAR}=")
    else:
        _sane(window)
    try:
        windows = parse_rate_limits(VAR, value)
    except ConfigError as error:
        assert error.message.startswith(f"{VAR}=")
    else:
        for each in windows:
            _sane(each)
        assert len({w.period for w in windows}) == len(windows)


@settings(max_examples=300, deadline=None)
@given(
    count=st.integers(1, 10**9),
    amount=st.one_of(
        st.integers(1, 10**7).map(str),
        st.builds(
            "{}.{}".format, st.integers(0, 999), st.text("0123456789", min_size=1, max_size=3)
        ),
    ),
    unit=st.sampled_from(list(UNITS)),
)
def test_a_rendered_rate_limit_parses_back(count: int, amount: str, unit: str) -> None:
    if float(amount) == 0:
        return  # 0.0 is refused, as it should be (the test above covers refusals)
    window = parse_rate_limit(VAR, f"{count}/{amount}{unit}")
    assert window.limit == count
    assert window.period == pytest.approx(float(amount) * UNITS[unit], rel=1e-12)
    assert parse_rate_limit(VAR, str(window)) == window  # what the bridge prints, read back
    pair = parse_rate_limits(VAR, f"{window}, {count}/{float(amount) * UNITS[unit] + 1}")
    assert pair[0] == window


# --- webhook bodies through the endpoints -----------------------------------------------

FIELDS = [
    "action", "profile", "days", "times", "snapshot_id", "idempotency_key", "preset",
    "text", "value1", "value2", "value3", "schedule__profile", "schedule__times", "junk",
]  # fmt: skip
WORDS = st.sampled_from(
    [
        "@skinnyoteam", "@nobody", "set", "add", "remove", "clear", "restore", "pause",
        "apply_preset", "set_days", "mon-fri", "weekends", "sat", "funday", "9am", "12:30",
        "25:00", "9am, 5pm", "noon", "previous", "#1", "0", "-1", "", " ", "\u00e9", "\x00",
    ]
)  # fmt: skip
_SCALAR = st.one_of(
    WORDS,
    st.text(max_size=30),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
)
# near-valid bodies, so the answers also reach the job (202), unknown profiles (404) and
# the chat grammar's commands, not only the schema's refusals
ACTIONS = st.sampled_from(["set", "add", "remove", "clear", "replace", "restore", "apply_preset"])
PROFILES = st.sampled_from(
    ["@skinnyoteam", "@nobody", "twitter:skinnyoteam", "4eb854340acb04e870000010"]
)
DAYS = st.sampled_from(["mon", "mon-fri", "weekends", "sat, sun", "tue to thu", "funday"])
TIMES = st.sampled_from(["9am", "12:30", "9am, 5pm", "17:00 18:00", "25:00", "noon"])
NEAR_BODY = st.fixed_dictionaries(
    {"action": ACTIONS, "profile": PROFILES, "days": DAYS, "times": TIMES},
    optional={
        "snapshot_id": st.one_of(WORDS, st.integers(-5, 5)),
        "preset": WORDS,
        "junk": _SCALAR,
    },
)
# the chat grammar's other commands too: a webhook refuses them, naming the text
COMMANDS = ACTIONS | st.sampled_from(["show", "help", "history", "profiles", "job"])
NEAR_TEXT = st.one_of(
    st.builds("{} {} {} {}".format, COMMANDS, PROFILES, DAYS, TIMES),
    st.builds(
        lambda command, rest: " ".join([command, *rest]),
        COMMANDS,
        st.lists(PROFILES | DAYS | TIMES, max_size=3),
    ),
)
JSON_VALUE = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
JSON_BODY = st.one_of(st.dictionaries(st.sampled_from(FIELDS), JSON_VALUE, max_size=6), NEAR_BODY)
FORM_BODY = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(FIELDS), st.text(max_size=8)),
        st.one_of(WORDS, st.text(max_size=30)),
    ),
    max_size=8,
) | NEAR_BODY.map(lambda body: [(k, str(v)) for k, v in body.items()])
TEXT_BODY = st.one_of(st.text(max_size=80), st.lists(WORDS, max_size=8).map(" ".join))


def _check_answer(response: Any) -> None:
    """2xx, or a 4xx in the error shape; a 400 or 422 names the wrong field."""
    status = response.status_code
    body = response.get_json()
    assert status < 500, (status, body)
    if status < 300:
        return
    assert 400 <= status < 500, (status, body)
    assert body["code"] == status and isinstance(body["status"], str), body
    assert isinstance(body["message"], str) and body["message"], body
    if status in (400, 422):
        errors = body.get("errors")
        assert isinstance(errors, dict) and errors, body
        assert all(isinstance(name, str) and name and name != "_schema" for name in errors), body


FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def signer(services: Any) -> dict[str, Any]:
    """A client with a signing secret, and a Webhook to sign bodies with."""
    with services.db.session() as session:
        client, token = auth.create_client(session, "fuzz-signer", signing_secret=True)
        secret = client.signing_secret
    assert secret is not None
    return {"token": token, "webhook": Webhook(secret)}


@pytest.mark.parametrize("hook", ["/hooks/zapier", "/hooks/ifttt"])
@FUZZ
@given(body=JSON_BODY)
def test_any_json_body_is_2xx_or_a_4xx_naming_the_field(client, auth_headers, hook, body):
    _check_answer(
        client.post(
            hook,
            data=json.dumps(body),
            headers={**auth_headers, "Content-Type": "application/json"},
        )
    )


@pytest.mark.parametrize("hook", ["/hooks/zapier", "/hooks/ifttt"])
@FUZZ
@given(pairs=FORM_BODY)
def test_any_form_body_is_2xx_or_a_4xx_naming_the_field(client, auth_headers, hook, pairs):
    form = urlencode(pairs)
    headers = {**auth_headers, "Content-Type": "application/x-www-form-urlencoded"}
    _check_answer(client.post(hook, data=form, headers=headers))


@pytest.mark.parametrize("hook", ["/hooks/zapier", "/hooks/ifttt"])
@FUZZ
@given(text=TEXT_BODY | NEAR_TEXT)
def test_any_text_body_is_a_command_or_a_4xx_naming_the_field(client, auth_headers, hook, text):
    headers = {**auth_headers, "Content-Type": "text/plain; charset=utf-8"}
    _check_answer(client.post(hook, data=text.encode("utf-8", "surrogatepass"), headers=headers))


@FUZZ
@given(body=st.one_of(JSON_BODY.map(json.dumps), TEXT_BODY, NEAR_TEXT))
def test_any_signed_body_is_2xx_or_a_4xx_naming_the_field(client, signer, body):
    moment = dt.datetime.now(dt.UTC)
    webhook_id = f"msg_{abs(hash(body))}_{moment.timestamp()}"
    headers = {
        "X-Bridge-Token": signer["token"],
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signer["webhook"].sign(webhook_id, moment, body),
        "Content-Type": "application/json",
    }
    _check_answer(
        client.post("/hooks/signed", data=body.encode("utf-8", "surrogatepass"), headers=headers)
    )


# --- days and times: what the bridge renders, read back ---------------------------------

_DAY_SETS = st.sets(st.sampled_from(DAY_NAMES), min_size=1)
_CLOCK = st.tuples(st.integers(0, 23), st.integers(0, 59))


def _twelve(hour: int, minute: int, style: int) -> str:
    """One clock time as a person writes it: 17:05, 5:05pm, 5:05 PM, 5pm."""
    meridiem = "am" if hour < 12 else "pm"
    twelve = hour % 12 or 12
    if style == 0 or (style == 3 and minute):
        return f"{hour:02d}:{minute:02d}"
    if style == 1:
        return f"{twelve}:{minute:02d}{meridiem}"
    if style == 2:
        return f"{twelve}:{minute:02d} {meridiem.upper()}"
    return f"{twelve}{meridiem}"


@settings(max_examples=200, deadline=None)
@given(_DAY_SETS)
def test_days_as_the_bridge_writes_them_parse_back(days: set[str]) -> None:
    in_order = tuple(d for d in DAY_NAMES if d in days)
    rendered = schedules._compress_days(in_order)  # "mon-wed, fri": summaries, chat answers
    assert schedule_grammar.parse_days(rendered) == in_order
    assert schedule_grammar.parse_days(list(in_order)) == in_order


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(_CLOCK, st.integers(0, 3)), min_size=1, max_size=6),
    st.sampled_from([", ", " ", ",", " and "]),
)
def test_times_however_written_parse_to_sorted_hhmm(clocks, separator) -> None:
    text = separator.join(_twelve(h, m, style) for (h, m), style in clocks)
    expected = tuple(sorted({f"{h:02d}:{m:02d}" for (h, m), _style in clocks}))
    assert schedule_grammar.parse_times(text) == expected
    assert schedule_grammar.parse_times(" ".join(expected)) == expected  # a fixed point
