"""The `bridge` command."""

import click


@click.group()
def main() -> None:
    """buffer-bridge: automate Buffer posting schedules."""
