"""`bridge db upgrade` and `bridge clients ...`: the store and who may call the bridge."""

from __future__ import annotations

from typing import Any

import click

from bridge.cli.base import _services, _settings, _table, friendly, main
from bridge.errors import BridgeError


@main.group()
def db() -> None:
    """The database."""


@db.command("upgrade")
@friendly
def db_upgrade() -> None:
    """Apply the migrations."""
    from bridge.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    click.echo("database is up to date")


@main.group()
def clients() -> None:
    """API clients: who may call the bridge, and on which profiles."""


@clients.command("create")
@click.argument("name")
@click.option("--profiles", default="", help="comma-separated profile references (default: all)")
@click.option("--read-only", is_flag=True, help="may read but not change anything")
@click.option("--signing-secret", is_flag=True, help="also make a Standard Webhooks secret")
@click.option("--slack-team", default=None, help="Slack team id whose commands act as this client")
@click.option("--slack-channel", default=None, help="only commands from this Slack channel")
@click.option("--slack-user", default=None, help="only commands from this Slack user")
@click.option("--mattermost-token", default=None, help="the Mattermost slash command's token")
@click.option(
    "--mattermost-url",
    default=None,
    help="the Mattermost server's base URL (https://chat.example.com): follow-ups go only there",
)
@friendly
def clients_create(name: str, profiles: str, read_only: bool, **options: Any) -> None:
    """Create a client; its token is printed once, as the last line."""
    from bridge import auth

    svc = _services()
    refs = [ref.strip() for ref in profiles.split(",") if ref.strip()]
    if refs and not _all_cached(svc, refs):
        # scopes are stored as ids: a new profile must be known first
        why = _try_refresh_cache(svc)
        unknown = [ref for ref in refs if not _all_cached(svc, [ref])]
        if unknown and why:
            raise click.ClickException(
                f"unknown profile {', '.join(map(repr, unknown))}: not in the profile cache, "
                f"which could not be refreshed from Buffer ({why})"
            )
    with svc.db.session() as session:
        client, token = auth.create_client(session, name, refs, read_only=read_only, **options)
        scoped = _scope_text(session, client.profiles)
        secret = client.signing_secret
    click.echo(f"created client {name!r}: profiles={scoped} read_only={read_only}")
    if secret:
        click.echo(f"signing secret (Standard Webhooks): {secret}")
    click.echo("token (shown once, keep it safe):")
    click.echo(token)


def _all_cached(svc: Any, refs: list[str]) -> bool:
    """True when every reference names one profile of the cache."""
    from bridge import profiles

    with svc.db.session() as session:
        try:
            for ref in refs:
                profiles.resolve(session, ref)
        except BridgeError:
            return False
    return True


def _try_refresh_cache(svc: Any) -> str | None:
    """Refresh the profile cache; None when done, else why not (no account, Buffer down),
    so the caller can still say which profile it did not find."""
    try:
        _refresh_cache(svc)
    except click.ClickException as error:
        return error.message
    except BridgeError as error:
        return str(error)
    return None


def _refresh_cache(svc: Any) -> None:
    """Fill the profile cache from Buffer (one GET /profiles per account)."""
    from bridge import profiles
    from bridge.cli.buffer import buffer_profiles
    from bridge.models import utcnow

    found = buffer_profiles(svc.settings)
    with svc.db.session() as session:
        profiles.ensure_accounts(session, svc.settings)
        for account in {a for a, _p in found}:
            profiles.upsert(session, account, [p for a, p in found if a == account], utcnow())


def _scope_text(session: Any, refs: list[str] | None) -> str:
    """A client's scopes as people read them: each profile's name (`twitter:brand`) with
    its id, `all` for none."""
    from bridge import models, profiles

    if not refs:
        return "all"
    shown = []
    for ref in refs:
        row = session.get(models.Profile, ref)
        # a scope the migration could not resolve is still a name, matched as before
        shown.append(f"{profiles.label(row)} ({ref})" if row is not None else f"{ref} (by name)")
    return ",".join(shown)


@clients.command("list")
@friendly
def clients_list() -> None:
    """List clients (never their tokens); scopes as profile ids with their names."""
    from bridge import auth

    svc = _services()
    with svc.db.session() as session:
        rows = [
            (
                c.name,
                _scope_text(session, c.profiles),
                "read-only" if c.read_only else "read-write",
                "revoked" if c.revoked else "active",
                c.slack_team or "",
                c.created_at.strftime("%Y-%m-%d %H:%M"),
            )
            for c in auth.listing(session)
        ]
    _table(("NAME", "PROFILES", "ACCESS", "STATE", "SLACK TEAM", "CREATED"), rows)


@clients.command("revoke")
@click.argument("name")
@friendly
def clients_revoke(name: str) -> None:
    """Revoke a client: its token stops working at once."""
    from bridge import auth

    svc = _services()
    with svc.db.session() as session:
        auth.revoke(session, name)
    click.echo(f"revoked client {name!r}")
