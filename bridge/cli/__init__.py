"""The `bridge` command: run the services, manage clients, look at profiles and schedules.

One module per group of subcommands: `run` (serve, worker, beat, sandbox, dev,
healthcheck), `store` (db, clients), `buffer` (profiles, schedules, accounts), `rotation`
(presets, rotations), `posting` (posts, profile-settings); `base` holds the group
itself and what they share. Importing this package registers them all.
"""

from bridge.cli import buffer, events, posting, rotation, run, store
from bridge.cli.base import main

__all__ = ["buffer", "events", "main", "posting", "rotation", "run", "store"]
