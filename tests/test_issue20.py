"""Issue 20 (an outside security review and a new user): each finding a test that failed
before its fix. Item numbers are the issue's."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest

from bridge import followups, safehttp, subscriptions
from bridge.errors import Unauthorized

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
