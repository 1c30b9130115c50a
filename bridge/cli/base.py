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


def _services() -> Any:
    """Services for commands that use the store."""
    from bridge.services import Services

    return Services(_settings())


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
