"""Issue 20 (an outside security review and a new user): each finding a test that failed
before its fix. Item numbers are the issue's."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest

from bridge import followups, safehttp
from bridge.errors import Unauthorized
from bridge.events import subscriptions

# -- item 1: IPv4 carried inside IPv6 is judged by the IPv4 address

CARRIED = [
    ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
    ("64:ff9b::7f00:1", "public"),  # NAT64 of 127.0.0.1
    ("2002:a9fe:a9fe::", "link-local"),  # 6to4 of 169.254.169.254
    ("2002:7f00:1::", "public"),  # 6to4 of 127.0.0.1
    ("::169.254.169.254", "link-local"),  # IPv4-compatible
    ("::127.0.0.1", "public"),  # IPv4-compatible
    ("::10.0.0.7", "public"),  # IPv4-compatible, private
    ("::ffff:169.254.169.254", "link-local"),  # IPv4-mapped
    ("::ffff:127.0.0.1", "public"),  # IPv4-mapped
    ("2001:0:4136:e378:8000:63bf:5601:5601", "link-local"),  # Teredo, client 169.254.169.254
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "public"),  # Teredo, client 127.0.0.1
    ("2001:0:a9fe:a9fe:8000:63bf:3fff:fdd2", "link-local"),  # Teredo, server 169.254.169.254
    ("64:ff9b:1:a9fe:a9:fe00::", "local-use NAT64"),  # RFC 8215, a /48 embedding it
]


@pytest.mark.parametrize(("address", "why"), CARRIED)
def test_a_subscription_to_ipv4_inside_ipv6_is_refused(address: str, why: str) -> None:
    with pytest.raises(safehttp.RefusedTarget, match=why):
        subscriptions.check_url("zapier", f"https://[{address}]/hook", allow_private=False)


@pytest.mark.parametrize(("address", "why"), [c for c in CARRIED if c[1] == "link-local"])
def test_link_local_inside_ipv6_is_refused_even_with_private_addresses_allowed(
    address: str, why: str
) -> None:
    with pytest.raises(safehttp.RefusedTarget, match=why):
        subscriptions.check_url("webhook", f"https://[{address}]/hook", allow_private=True)


@pytest.mark.parametrize(("address", "why"), CARRIED)
def test_a_chat_follow_up_to_ipv4_inside_ipv6_is_refused(address: str, why: str) -> None:
    server = f"https://[{address}]"
    with pytest.raises(followups.RefusedTarget, match=why):
        followups.check_target("mattermost", f"{server}/hooks/x", server, frozenset())


@pytest.mark.parametrize(("address", "why"), CARRIED)
def test_a_name_resolving_to_ipv4_inside_ipv6_is_refused(
    monkeypatch: pytest.MonkeyPatch, address: str, why: str
) -> None:
    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(10, 1, 6, "", (address, port, 0, 0))]

    monkeypatch.setattr("socket.getaddrinfo", getaddrinfo)
    with pytest.raises(safehttp.RefusedTarget, match=why):
        safehttp.resolve_checked("hooks.example.com", 443, safehttp.Policy())


@pytest.mark.parametrize(
    "address",
    ["64:ff9b::808:808", "2002:808:808::", "::ffff:8.8.8.8", "2606:4700:4700::1111"],
)
def test_a_public_ipv4_inside_ipv6_still_passes(address: str) -> None:
    """NAT64 is how an IPv6-only host reaches every IPv4 receiver: refusing all of it
    would refuse every receiver there."""
    safehttp.check_address(ipaddress.ip_address(address))


def test_the_api_names_the_url_field_for_ipv4_inside_ipv6(client: Any, auth_headers: Any) -> None:
    body = {"url": "https://[64:ff9b::a9fe:a9fe]/hook", "events": ["*"], "kind": "zapier"}
    answer = client.post("/v1/subscriptions", json=body, headers=auth_headers)
    assert answer.status_code == 422
    assert "link-local" in json.dumps(answer.get_json()["errors"]["url"])


# -- item 6: bridge dev restarts with its dev client's data kept


def test_bridge_dev_restarts_after_its_dev_client_subscribed(
    tmp_path: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bridge import auth, models
    from bridge.db import Database
    from bridge.devserver import DEV_CLIENT, DevSupervisor

    for name in ("BUFFER_ACCESS_TOKEN", "BUFFER_API_KEY", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REDIS_URL", redis_url)
    first_token, _code = DevSupervisor(8000, tmp_path).prepare_store()
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    db = Database(url)
    with db.session() as session:
        client = auth.authenticate(session, first_token)
        session.add(
            models.EventSubscription(
                client_id=client.id,
                kind="webhook",
                url="http://127.0.0.1:8099/",
                events=["*"],
                secret=auth.new_signing_secret(),
                enabled=True,
                failures=0,
                created_at=models.utcnow(),
            )
        )
        auth.revoke(session, DEV_CLIENT)
    token, code = DevSupervisor(8000, tmp_path).prepare_store()  # FOREIGN KEY failed before
    assert token != first_token and code
    with db.session() as session:
        again = auth.authenticate(session, token)  # live again, with a new token
        assert again.id == client.id
        kept = session.query(models.EventSubscription).filter_by(client_id=again.id).count()
        assert kept == 1
        with pytest.raises(Unauthorized, match="not valid"):
            auth.authenticate(session, first_token)
    db.dispose()


# -- item 7: the CLI beside `bridge dev`


def test_bridge_dev_writes_an_env_file_the_cli_can_source(
    tmp_path: Any, buffer_sandbox: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import stat
    import subprocess
    import sys

    from bridge.devserver import DevSupervisor, banner

    monkeypatch.setenv("USERS_OWN", "kept out")
    for name in ("BUFFER_ACCESS_TOKEN", "BUFFER_API_KEY", "DATABASE_URL", "BUFFER_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REDIS_URL", redis_url)  # the user's own: not written
    data = tmp_path / "var dir"  # a space, so the file must quote
    data.mkdir()
    supervisor = DevSupervisor(8000, data)
    supervisor.env["BUFFER_API_URL"] = buffer_sandbox.url  # as start_sandbox sets them
    supervisor.env["BUFFER_ACCESS_TOKEN"] = "sandbox-token"
    supervisor.prepare_store()
    path = supervisor.write_env_file()
    assert path == (data / "dev.env").resolve()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "REDIS_URL" not in text and "USERS_OWN" not in text
    assert f". {path}" in text.splitlines()[0]
    assert f"  CLI:           . '{path}'" in banner(8000, "bb_x", True, env_file=str(path))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BUFFER_")}
    clean.pop("DATABASE_URL", None)
    second_shell = subprocess.run(
        ["bash", "-c", f'. "$1" && exec {sys.executable} -m bridge.cli clients list', "-", path],
        env=clean,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second_shell.returncode == 0, second_shell.stderr
    assert "dev " in second_shell.stdout  # the dev client, from bridge dev's own store
    supervisor.remove_env_file()
    assert not path.exists()


@pytest.fixture
def no_account(monkeypatch: pytest.MonkeyPatch, database_url: str) -> dict[str, str]:
    for name in ("BUFFER_ACCESS_TOKEN", "BUFFER_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return {"DATABASE_URL": database_url, "BUFFER_ACCESS_TOKEN": "", "BUFFER_API_KEY": ""}


def test_clients_create_names_the_unknown_profile_without_an_account(runner, no_account):
    from bridge.cli import main

    result = runner.invoke(
        main, ["clients", "create", "zap", "--profiles", "@unknown,@also"], env=no_account
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "unknown profile '@unknown', '@also'" in result.output
    assert "no Buffer account" in result.output and ". var/dev.env" in result.output
    assert "sandbox-token" not in result.output  # it led to the real Buffer


def test_the_no_account_hint_points_at_bridge_devs_env_file(runner, no_account):
    from bridge.cli import main

    result = runner.invoke(main, ["profiles"], env=no_account)
    assert result.exit_code == 1 and ". var/dev.env" in result.output
    assert "sandbox-token" not in result.output


def test_an_empty_database_is_named_with_a_way_elsewhere(
    runner, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bridge.cli import main

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["clients", "list"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"the SQLite file {tmp_path / 'bridge.db'}" in result.output
    assert "DATABASE_URL is not set" in result.output and ". var/dev.env" in result.output
    assert "bridge db upgrade" in result.output
    assert not (tmp_path / "bridge.db").exists()  # looking made no empty file


@pytest.mark.parametrize("secret", ["bb_abc", "abc", "whsec_", "whsec_!!not-base64", ""])
def test_events_listen_refuses_a_secret_that_is_not_whsec(runner, secret: str) -> None:
    from bridge.cli import main

    result = runner.invoke(main, ["events", "listen", "--secret", secret])
    assert result.exit_code == 2 and "--secret" in result.output
    assert "whsec_ followed by base64" in result.output


def test_beat_help_names_rotation(runner) -> None:
    from bridge.cli import main

    result = runner.invoke(main, ["beat", "--help"])
    assert result.exit_code == 0 and "rotation" in result.output
