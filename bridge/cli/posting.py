"""`bridge posts ...` and `bridge profiles settings ...`: kept weeks and posts from the
shell. The CLI acts as the operator (every profile, may write), as `bridge presets` does."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from bridge.cli.base import _services, _table, friendly, main


def _operator() -> Any:
    from bridge.rotation import system_client

    return system_client()


@main.group()
def posts() -> None:
    """Posts placed on a profile's kept week (bridge mode) or in Buffer's queue."""


@posts.command("add")
@click.argument("profile")
@click.argument("text")
@click.option("--when", default="queue", show_default=True, help="queue, now, or an ISO 8601 time")
@click.option("--link", default=None, help="a link, sent inside the text")
@friendly
def posts_add(profile: str, text: str, when: str, link: str | None) -> None:
    """Queue a post; its job places it on the week's next free slot."""
    from bridge import jobs
    from bridge.posting import posts as service

    post = service.parse(text, when, link)
    origin = jobs.Provenance("cli")
    job, found, _created = service.submit(_services(), _operator(), profile, post, origin)
    click.echo(f"queued job {job.id}: post on {found.service}:{found.service_username}")


@posts.command("list")
@click.argument("profile")
@friendly
def posts_list(profile: str) -> None:
    """The profile's coming posts, soonest first."""
    from bridge import catalog
    from bridge.posting import listing

    svc = _services()
    found = catalog.readable(svc, _operator(), profile)
    view = listing.coming(svc, found, dt.datetime.now(dt.UTC))
    if view.get("stale"):
        click.echo(f"note: {view['stale_reason']}")
    rows = [
        (
            p["due_at"] or "",
            p["slot"] or "",
            "bridge" if p["placed_by_bridge"] else "buffer",
            "yes" if p["follows_week"] else "no",
            p["excerpt"],
        )
        for p in view["posts"]
    ]
    _table(("DUE", "SLOT", "PLACED BY", "FOLLOWS WEEK", "TEXT"), rows)


@main.command("profile-settings")
@click.argument("profile")
@click.option("--mode", type=click.Choice(["buffer", "bridge"]), default=None)
@click.option("--adopt-queue/--no-adopt-queue", default=None)
@click.option("--min-gap", type=int, default=None, help="minutes between posts (0-1440)")
@click.option("--exclude", default=None, help="comma-separated dates (YYYY-MM-DD); '' clears")
@friendly
def profile_settings(
    profile: str,
    mode: str | None,
    adopt_queue: bool | None,
    min_gap: int | None,
    exclude: str | None,
) -> None:
    """Show or change a profile's posting settings (who keeps its week, gaps, dates)."""
    from bridge import catalog
    from bridge.errors import InvalidInput
    from bridge.posting import settings as service

    svc = _services()
    if mode is None and adopt_queue is None and min_gap is None and exclude is None:
        view = service.of_profile(svc, catalog.readable(svc, _operator(), profile))
    else:
        try:
            dates = (
                tuple(dt.date.fromisoformat(d.strip()) for d in exclude.split(",") if d.strip())
                if exclude is not None
                else None
            )
        except ValueError:
            raise InvalidInput("dates as YYYY-MM-DD, separated by commas", "exclude") from None
        change = service.SettingsChange(mode, adopt_queue, min_gap, dates)
        view, written = service.update(svc, _operator(), profile, change)
        if written is not None:
            click.echo(f"queued job {written.job.id}: the kept week written back to Buffer")
    for key, value in view.items():
        click.echo(f"{key}: {value}")
