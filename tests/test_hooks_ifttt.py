"""IFTTT webhooks: bodies typed by hand as JSON, form or plain text, and value1..value3."""

from __future__ import annotations

import pytest

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def test_json_with_value1_to_value3(client, auth_headers):
    body = {"value1": "@skinnyoteam", "value2": "weekdays", "value3": "9am, 12:30, 5pm"}
    response = client.post("/hooks/ifttt", json=body, headers=auth_headers)
    assert response.status_code == 202, response.get_json()
    answer = response.get_json()
    assert (answer["profile"], answer["days"]) == ("twitter:skinnyoteam", WEEKDAYS)
    assert answer["times"] == ["09:00", "12:30", "17:00"]
    job = client.get(f"/v1/jobs/{answer['job_id']}", headers=auth_headers).get_json()
    assert job["source"] == "ifttt"


def test_named_fields_win_over_values(client, auth_headers):
    body = {"value1": "@nobody", "profile": "@skinnyoteam", "days": "sat", "times": "10am"}
    response = client.post("/hooks/ifttt", json=body, headers=auth_headers)
    assert response.get_json()["days"] == ["sat"]


@pytest.mark.parametrize(
    "text",
    [
        '{"value1": "@skinnyoteam", "value2": "sat", "value3": "10am"}',
        "value1=%40skinnyoteam&value2=sat&value3=10am",
        "set @skinnyoteam sat 10am",
        "\ufeff  set @skinnyoteam saturday 10:00  \n",
    ],
)
def test_text_plain_bodies(client, auth_headers, text):
    response = client.post(
        "/hooks/ifttt", data=text, content_type="text/plain", headers=auth_headers
    )
    assert response.status_code == 202, response.get_json()
    answer = response.get_json()
    assert (answer["days"], answer["times"]) == (["sat"], ["10:00"])


def test_form_body_and_token_in_path(client, api_token):
    form = {"value1": "@skinnyoteam", "value2": "mon-wed", "value3": "8am"}
    response = client.post(f"/hooks/ifttt/{api_token}", data=form)
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["days"] == ["mon", "tue", "wed"]


@pytest.mark.parametrize(
    ("text", "status", "says"),
    [
        ('{"value1": "@skinnyoteam", ', 400, "malformed JSON at line 1 column 28"),
        ("[1, 2]", 400, "must be an object"),
        ("set @skinnyoteam funday 9am", 422, "unknown day 'funday'"),
        ("show @skinnyoteam", 422, "can only change schedules"),
    ],
)
def test_text_mistakes(client, auth_headers, text, status, says):
    response = client.post(
        "/hooks/ifttt", data=text, content_type="text/plain", headers=auth_headers
    )
    assert response.status_code == status
    assert says in str(response.get_json())


def test_body_that_is_not_utf8_is_400(client, auth_headers):
    response = client.post(
        "/hooks/ifttt", data=b"\xff\xfe", content_type="text/plain", headers=auth_headers
    )
    assert response.status_code == 400
    assert "not UTF-8" in response.get_json()["message"]


def test_empty_body_names_the_missing_field(client, auth_headers):
    response = client.post("/hooks/ifttt", headers=auth_headers)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"profile": ["set needs a profile"]}
