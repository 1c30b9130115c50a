"""The `bridge` command as a user meets it: tables, one-line errors, clients."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.cli import main
from tests.conftest import SANDBOX_TOKEN, free_port


@pytest.fixture
def env(buffer_sandbox: Any, database_url: str) -> dict[str, str]:
    return {
        "BUFFER_API_URL": buffer_sandbox.url,
        "BUFFER_ACCESS_TOKEN": SANDBOX_TOKEN,
        "DATABASE_URL": database_url,
        "BUFFER_TIMEOUT": "2,5",
    }


def test_profiles_table(runner, env) -> None:
    result = runner.invoke(main, ["profiles"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["ID", "SERVICE", "USERNAME", "TIMEZONE", "SCHEDULE"]
    assert "4eb854340acb04e870000010  twitter" in result.output
    assert "mon-fri 12:00 17:00 18:00" in result.output
    assert len(lines) == 6  # header + 5 seeded profiles


@pytest.mark.parametrize(
    "ref",
    ["@skinnyoteam", "twitter:skinnyoteam", "twitter:@skinnyoteam", "4eb854340acb04e870000010"],
)
def test_schedules_show(runner, env, ref) -> None:
    result = runner.invoke(main, ["schedules", "show", ref], env=env)
    assert result.exit_code == 0, result.output
    assert "  mon  12:00 17:00 18:00" in result.output
    assert "  sat  -" in result.output


@pytest.mark.parametrize(
    ("overrides", "args", "message"),
    [
        ({"BUFFER_ACCESS_TOKEN": "wrong"}, ["profiles"], "Buffer rejected the access token"),
        ({}, ["schedules", "show", "@nobody"], "unknown profile '@nobody'"),
        ({}, ["schedules", "show", "not a ref"], "invalid profile reference"),
        ({"BUFFER_API_URL": "http://127.0.0.1:{port}/1/"}, ["profiles"], "Buffer is unreachable"),
        ({"BUFFER_RATE_LIMIT": "lots"}, ["profiles"], "BUFFER_RATE_LIMIT='lots'"),
        ({"BUFFER_ACCESS_TOKEN": ""}, ["profiles"], "no Buffer account"),
    ],
)
def test_one_line_errors(runner, env, overrides, args, message) -> None:
    merged = {**env, **{k: v.format(port=free_port()) for k, v in overrides.items()}}
    result = runner.invoke(main, args, env=merged)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_clients_lifecycle(runner, env) -> None:
    created = runner.invoke(
        main, ["clients", "create", "zap", "--profiles", "@skinnyoteam", "--read-only"], env=env
    )
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    assert token.startswith("bb_") and len(token) > 40
    listed = runner.invoke(main, ["clients", "list"], env=env)
    assert "zap" in listed.output and "4eb854340acb04e870000010" in listed.output
    assert token not in listed.output
    again = runner.invoke(main, ["clients", "create", "zap"], env=env)
    assert again.exit_code == 1 and "already exists" in again.output
    revoked = runner.invoke(main, ["clients", "revoke", "zap"], env=env)
    assert revoked.exit_code == 0
    assert "revoked" in runner.invoke(main, ["clients", "list"], env=env).output
    missing = runner.invoke(main, ["clients", "revoke", "nobody"], env=env)
    assert missing.exit_code == 1 and "no client named" in missing.output


def test_worker_refuses_a_malformed_node_name(runner, env) -> None:
    result = runner.invoke(main, ["worker", "--name", "two words"], env=env)
    assert result.exit_code == 2  # a usage error, before any worker starts
    assert "--name" in result.output and "Traceback" not in result.output
