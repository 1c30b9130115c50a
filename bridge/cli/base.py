"""What every `bridge` subcommand shares: the group, one-line errors, settings and services."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

from bridge.errors import BridgeError, BufferUnauthorized, BufferUnavailable

F = TypeVar("F", bound=Callable[..., Any])


def friendly(func: F) -> F:
    """Turn the bridge's errors into one line on stderr and exit 1, no traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BufferUnauthorized as error:
            raise click.ClickException(
                f"Buffer rejected the access token ({error.message}); check BUFFER_ACCESS_TOKEN"
            ) from error
        except BufferUnavailable as error:
            raise click.ClickException(f"Buffer is unreachable: {error}") from error
        except BridgeError as error:
            raise click.ClickException(str(error)) from error

    return wrapper  # type: ignore[return-value]


def _settings() -> Any:
    """Settings from the environment (a bad value stops here with one line)."""
    from bridge.config import load_settings

    try:
        return load_settings()
    except BridgeError as error:
        raise click.ClickException(str(error)) from error


# `bridge dev` writes its settings there (the default --data-dir) and prints the line
DEV_ENV_HINT = "beside `bridge dev`, first run the line it printed: . var/dev.env"


def _services() -> Any:
    """Services for commands that use the store; a one-line error naming the database when
    it has no tables (a shell without DATABASE_URL opens ./bridge.db, not the bridge's)."""
    from bridge.services import Services

    settings = _settings()
    _check_store(settings)
    return Services(settings)


def _check_store(settings: Any) -> None:
    """ClickException unless the database has the bridge's tables, saying which database
    was opened and how to open another."""
    from bridge.config import DEFAULT_DATABASE_URL
    from bridge.migrate import describe, has_schema

    if has_schema(settings.database_url):
        return
    default = settings.database_url == DEFAULT_DATABASE_URL
    chosen = "DATABASE_URL is not set, so the default" if default else "from DATABASE_URL"
    raise click.ClickException(
        f"{describe(settings.database_url)} ({chosen}) has no bridge tables. Point "
        f"DATABASE_URL at the bridge's database ({DEV_ENV_HINT}), or run `bridge db "
        "upgrade` to make the tables in this one"
    )


@click.group()
@click.version_option(package_name="buffer-bridge")
def main() -> None:
    """buffer-bridge: automate Buffer posting schedules."""


def _table(headers: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
    """Print an aligned text table."""
    data = [list(map(str, headers))] + [list(map(str, row)) for row in rows]
    widths = [max(len(row[i]) for row in data) for i in range(len(data[0]))]
    for row in data:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
