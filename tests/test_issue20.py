"""Issue 20 (an outside security review and a new user): each finding a test that failed
before its fix. Item numbers are the issue's."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest

from bridge import followups, safehttp, subscriptions

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
