"""HTTP to addresses someone else chose (chat follow-ups, outbound event subscriptions).

A URL that comes from a caller may point anywhere: at the bridge's own Redis, at a
private service, or at cloud metadata (169.254.169.254). A `guarded_session` resolves
the host once, checks every address it resolves to, and connects to an address it
checked (no second lookup, so no DNS rebinding); TLS still verifies the certificate
against the host name. Redirects are the caller's to refuse (`allow_redirects=False`):
a redirect could lead anywhere. No proxy or .netrc from the environment is used, since
a proxy would be the one connecting and the checks would not hold.

What passes is a `Policy`:
- by default only global unicast addresses;
- `exempt_hosts` (follow-ups, tests): those host names skip the address check;
- `allow_private` (OUTBOUND_ALLOW_PRIVATE, development and the sandbox): loopback and
  private addresses pass too, but link-local ones (169.254.0.0/16, fe80::/10, where cloud
  metadata lives), multicast and unspecified addresses never do.

An IPv6 address that carries an IPv4 address is judged by the IPv4 address it carries,
since that is where the packets end up: IPv4-mapped (::ffff:0:0/96), IPv4-compatible
(::/96), NAT64 (64:ff9b::/96), 6to4 (2002::/16) and Teredo (2001::/32, its server and
its client both). Python's own `is_global` for these prefixes differs between versions
and says nothing about the address inside, so it is never asked about them. The
local-use NAT64 prefix (64:ff9b:1::/48) is always refused: where its IPv4 address sits
is the local network's choice, so it cannot be found to be checked.

urllib3's connection classes are subclassed because neither requests nor urllib3 offers
a resolve-check-connect hook; this is the smallest override that pins the address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import connection as u3connection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.connection import create_connection

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052's well-known prefix
COMPATIBLE = ipaddress.IPv6Network("::/96")  # RFC 4291's deprecated IPv4-compatible form
LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: any prefix length inside


class RefusedTarget(Exception):
    """An address or URL the bridge will not connect to; the message says why (never the URL)."""


@dataclass(frozen=True)
class Policy:
    """Which addresses a guarded session may connect to (see the module docstring)."""

    exempt_hosts: frozenset[str] = frozenset()
    allow_private: bool = False

    def exempt(self, host: str) -> bool:
        return host in self.exempt_hosts


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses `address` carries (see the module docstring), none for a plain
    IPv6 address; :: and ::1 are the IPv6 unspecified and loopback addresses, not IPv4."""
    if address.ipv4_mapped is not None:
        return (address.ipv4_mapped,)
    if address in NAT64 or (address in COMPATIBLE and int(address) > 1):
        return (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF),)
    if address.sixtofour is not None:
        return (address.sixtofour,)
    if address.teredo is not None:
        return address.teredo  # (server, client): either one could be the one reached
    return ()


def check_address(address: Address, allow_private: bool = False) -> None:
    """RefusedTarget unless `address` may be connected to: a global unicast address, or
    with `allow_private` also loopback and private ones, never link-local. An IPv6 address
    carrying IPv4 addresses passes only when every one of them does."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in LOCAL_NAT64:
            raise RefusedTarget("the host is a local-use NAT64 address (64:ff9b:1::/48)")
        inside = embedded_ipv4(address)
        if inside:
            for carried in inside:
                check_address(carried, allow_private)
            return
    if address.is_link_local or address.is_multicast or address.is_unspecified:
        raise RefusedTarget("the host is a link-local, multicast or unspecified address")
    if allow_private and (address.is_loopback or address.is_private):
        return
    if not address.is_global:
        raise RefusedTarget("the host is not a public address")


def check_literal(host: str, allow_private: bool = False) -> None:
    """Check `host` when it is written as an IP address (no DNS lookup is made here)."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return
    check_address(literal, allow_private)


def resolve_checked(host: str, port: int, policy: Policy) -> list[str]:
    """Every address `host` resolves to, each one checked (RefusedTarget if any fails,
    unless the host is exempt); OSError when it does not resolve."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not policy.exempt(host):
        for address in addresses:
            check_address(ipaddress.ip_address(address.split("%", 1)[0]), policy.allow_private)
    return addresses


class _PinnedConnectionMixin:
    """Resolves the host once, checks every address, and connects to a checked one."""

    policy: Policy = Policy()
    _dns_host: str
    port: int
    host: str
    timeout: Any
    source_address: Any
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        host = self._dns_host.rstrip(".")
        try:
            addresses = resolve_checked(host, self.port, self.policy)
        except OSError as error:
            raise NewConnectionError(self, f"cannot resolve the host: {error}") from None  # type: ignore[arg-type]
        last: OSError | None = None
        for address in addresses:
            try:
                return create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError:
                raise ConnectTimeoutError(self, "connection timed out") from None
            except OSError as error:
                last = error
        raise NewConnectionError(self, f"failed to connect: {last}")  # type: ignore[arg-type]


def guarded_session(
    exempt_hosts: Collection[str] = (), allow_private: bool = False
) -> requests.Session:
    """A session whose connections go only to addresses the policy allows; callers pass
    `allow_redirects=False` on every request."""
    chosen = Policy(frozenset(exempt_hosts), allow_private)

    class Pinned(_PinnedConnectionMixin, u3connection.HTTPConnection):
        policy = chosen

    class PinnedTLS(_PinnedConnectionMixin, u3connection.HTTPSConnection):
        policy = chosen

    class Pool(HTTPConnectionPool):
        ConnectionCls = Pinned

    class TLSPool(HTTPSConnectionPool):
        ConnectionCls = PinnedTLS

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": TLSPool}

    session = requests.Session()
    session.trust_env = False
    adapter = Adapter(max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def check_base_url(url: str) -> str:
    """A server's base URL (e.g. a client's Mattermost server), normalised; ValueError
    unless it is http(s) with a host and nothing but a path (no credentials, query or
    fragment)."""
    parts = urlsplit(url.strip())
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username
        or parts.password
        or parts.query
        or parts.fragment
    ):
        raise ValueError("expected a base URL like https://chat.example.com")
    return url.strip().rstrip("/")
