"""`bridge profiles`, `schedules show`, `accounts`: Buffer as the configured accounts see it."""

from __future__ import annotations

from typing import Any

import click

from bridge.cli.base import DEV_ENV_HINT, _services, _settings, _table, friendly, main


def _accounts(settings: Any) -> list[str]:
    """Configured accounts, or a one-line error when there are none."""
    names: list[str] = settings.account_names()
    if not names:
        raise click.ClickException(
            "no Buffer account: set BUFFER_ACCESS_TOKEN (v1) or BUFFER_API_KEY (GraphQL); "
            f"for the sandbox {DEV_ENV_HINT}"
        )
    return names


def _reads_graphql(settings: Any, account: str) -> bool:
    """True when `account` reads through GraphQL (it has an API key)."""
    return bool(settings.account_api(account) in ("graphql", "both"))


def _graphql_client(settings: Any, account: str) -> Any:
    from bridge.buffer.graphql import GraphQLClient

    return GraphQLClient(
        settings.buffer_api_key(account),
        url=settings.buffer_graphql_url,
        timeout=settings.buffer_timeout,
    )


def _v1_client(settings: Any, account: str) -> Any:
    from bridge.buffer.client import BufferClient

    return BufferClient(
        settings.buffer_token(account),
        base_url=settings.buffer_api_url,
        timeout=settings.buffer_timeout,
    )


def buffer_profiles(settings: Any) -> list[tuple[str, Any]]:
    """(account, profile) for every profile of every account, straight from Buffer (through
    GraphQL where the account has a key: one call per organization; else one v1 call)."""
    found: list[tuple[str, Any]] = []
    for account in _accounts(settings):
        if _reads_graphql(settings, account):
            with _graphql_client(settings, account) as client:
                for organization in client.organizations():
                    found.extend((account, p) for p in client.channels(organization.id))
        else:
            with _v1_client(settings, account) as client:
                found.extend((account, p) for p in client.profiles())
    return found


def _week(profile: Any) -> Any:
    """A Buffer profile's schedules as a Week, with its paused days."""
    from bridge import schedules

    week = schedules.from_buffer(s.to_json() for s in profile.schedules)
    return week.with_pauses(profile.paused_days)


@main.command("profiles")
@friendly
def profiles_cmd() -> None:
    """List the Buffer profiles of every configured account."""
    from bridge import schedules

    settings = _settings()
    several = len(_accounts(settings)) > 1
    rows: list[list[str]] = []
    for account, p in buffer_profiles(settings):
        summary = schedules.summary(_week(p))
        row = [p.id, p.service, p.service_username, p.timezone, summary]
        rows.append([*row, account] if several else row)
    headers = ["ID", "SERVICE", "USERNAME", "TIMEZONE", "SCHEDULE"]
    if several:
        headers.append("ACCOUNT")
    _table(headers, rows)


def find_profile(found: list[tuple[str, Any]], ref: str) -> tuple[str, Any]:
    """The (account, profile) that `ref` names among `found`."""
    from bridge.errors import ProfileNotFound
    from bridge.profiles import check_ref, matches

    ref = check_ref(ref)
    hits = [(a, p) for a, p in found if matches(p, [ref])]
    if not hits:
        raise ProfileNotFound(f"unknown profile {ref!r}")
    if len(hits) > 1:
        names = ", ".join(f"{p.service}:{p.service_username}" for _, p in hits)
        raise ProfileNotFound(f"{ref!r} matches several profiles ({names}): use service:username")
    return hits[0]


@main.group()
def schedules() -> None:
    """Posting schedules."""


@schedules.command("show")
@click.argument("profile")
@friendly
def schedules_show(profile: str) -> None:
    """Show a profile's posting schedule (PROFILE: id, service:username or @username)."""
    from bridge import schedules as domain
    from bridge.buffer.models import is_profile_id

    settings = _settings()
    if is_profile_id(profile) and len(_accounts(settings)) == 1:
        account, profile_id, label = settings.account_names()[0], profile, profile
    else:
        account, found = find_profile(buffer_profiles(settings), profile)
        profile_id, label = found.id, f"{found.service}:{found.service_username}"
    if _reads_graphql(settings, account):
        with _graphql_client(settings, account) as client:
            week = _week(client.channel(profile_id))
    else:
        with _v1_client(settings, account) as client:
            week = domain.from_buffer(s.to_json() for s in client.schedules(profile_id))
    click.echo(f"{label} ({profile_id})")
    for day in domain.DAYS:
        paused = "  (paused)" if week.is_paused(day) else ""
        click.echo(f"  {day}  {' '.join(week[day]) or '-'}{paused}")


@main.command("accounts")
@friendly
def accounts_cmd() -> None:
    """The Buffer accounts: API, whether they can change schedules, v1's days left."""
    from bridge import accounts

    settings = _settings()
    _accounts(settings)
    services = _services()
    try:
        entries = accounts.overview(services)
    finally:
        services.close()
    rows = [
        [
            e["name"],
            e["api"],
            "yes" if e["can_write"] else "no",
            e["profiles"],
            e["v1_sunset"] or "-",
            "-" if e["v1_days_left"] is None else e["v1_days_left"],
        ]
        for e in entries
    ]
    _table(["ACCOUNT", "API", "WRITES", "PROFILES", "V1 SUNSET", "DAYS LEFT"], rows)
    for entry in entries:
        for line in (entry["write_refusal"], entry["notice"]):
            if line:
                click.echo(f"{entry['name']}: {line}")
