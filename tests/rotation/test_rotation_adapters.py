"""Presets and rotations from the CLI, chat and the webhook action `apply_preset`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge import commands
from bridge.cli import main
from tests.conftest import mm_form
from tests.rotation.conftest import WEEKEND, make_plan, make_presets


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return cli_env


def test_cli_presets_and_rotations(runner, env, tmp_path: Path) -> None:
    made = runner.invoke(
        main, ["presets", "create", "weekend", "--week", '{"sat-sun": ["10:00"]}'], env=env
    )
    assert made.exit_code == 0, made.output
    copied = runner.invoke(
        main, ["presets", "create", "now", "--from-profile", "@skinnyoteam"], env=env
    )
    assert copied.exit_code == 0, copied.output
    assert "weekend" in runner.invoke(main, ["presets", "list"], env=env).output
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "name: weekends\nprofiles: ['@skinnyoteam']\nsteps:\n"
        "  - {preset: weekend, at: 'sat 00:00'}\n  - {preset: now, at: 'mon 06:00'}\n"
    )
    created = runner.invoke(main, ["rotations", "create", str(plan)], env=env)
    assert created.exit_code == 0, created.output
    shown = runner.invoke(main, ["rotations", "show", "weekends", "--count", "2"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "Europe/London" in shown.output or "(UTC)" in shown.output
    assert "apply weekend" in shown.output and "apply now" in shown.output
    ran = runner.invoke(main, ["rotations", "run", "weekends"], env=env)
    assert ran.exit_code == 0 and ran.output.startswith("jobs "), ran.output
    assert runner.invoke(main, ["rotations", "pause", "weekends"], env=env).exit_code == 0
    assert "paused" in runner.invoke(main, ["rotations", "list"], env=env).output
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "name": "b",
                "profiles": ["@skinnyoteam"],
                "steps": [{"preset": "weekend", "cron": "bad"}],
            }
        )
    )
    refused = runner.invoke(main, ["rotations", "create", str(bad)], env=env)
    assert refused.exit_code == 1 and "cron" in refused.output


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("preset list", True),
        ("preset apply weekend @brand", True),
        ("preset apply weekend", False),
        ("preset apply 'bad name' @brand", False),
        ("rotation list", True),
        ("rotation pause weekends", True),
        ("rotation next weekends", True),
        ("rotation stop weekends", False),
    ],
)
def test_chat_grammar(text: str, ok: bool) -> None:
    if ok:
        commands.parse(text)
    else:
        with pytest.raises(commands.UsageError):
            commands.parse(text)


def test_chat_preset_and_rotation_commands(client, linked, auth_headers) -> None:
    make_presets(client, auth_headers)
    assert (
        make_plan(client, auth_headers, [{"preset": "weekend", "at": "sat 00:00"}]).status_code
        == 201
    )

    said: list[str] = []

    def say(text: str) -> str:
        form = {**mm_form(text), "trigger_id": f"t{len(said)}"}  # replays answer 409
        said.append(text)
        answer = client.post("/chat/mattermost", data=form)
        assert answer.status_code == 200
        return answer.get_json()["text"]

    assert "weekend: sat-sun 10:00 16:00" in say("preset list")
    assert say("preset apply weekend @skinnyoteam").startswith("Queued: preset weekend")
    assert "plan: running" in say("rotation list")
    assert "plan, next:" in say("rotation next plan") and "weekend" in say("rotation next plan")
    assert say("rotation pause plan") == "Paused rotation plan plan."
    assert say("preset apply nope @skinnyoteam").startswith("Sorry: unknown preset")


def test_webhook_apply_preset(client, auth_headers) -> None:
    client.post("/v1/presets", json={"name": "weekend", "schedules": WEEKEND}, headers=auth_headers)
    answer = client.post(
        "/hooks/zapier",
        json={"action": "apply_preset", "preset": "weekend", "profile": "@skinnyoteam"},
        headers=auth_headers,
    )
    assert answer.status_code == 202, answer.get_json()
    job = client.get(answer.headers["Location"], headers=auth_headers).get_json()
    assert job["source"] == "zapier" and job["params"]["preset"] == "weekend"
    missing = client.post(
        "/hooks/zapier",
        json={"action": "apply_preset", "profile": "@skinnyoteam"},
        headers=auth_headers,
    )
    assert missing.status_code == 422 and "preset" in missing.get_json()["errors"]
    unknown = client.post(
        "/hooks/zapier",
        json={"action": "apply_preset", "preset": "nope", "profile": "@skinnyoteam"},
        headers=auth_headers,
    )
    assert unknown.status_code == 404
