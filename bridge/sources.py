"""Where a change comes from: the one list of sources. A job's `source`, the request logs'
and metrics' `source` label, the dashboard's "who" and events all read it from here."""

from __future__ import annotations

# source -> how a person is told who made the change
SOURCES: dict[str, str] = {
    "rest": "REST API",
    "zapier": "Zapier",
    "ifttt": "IFTTT",
    "signed": "signed webhook",
    "slack": "Slack",
    "mattermost": "Mattermost",
    "cli": "command line",
    "rotation": "rotation",
    "ui": "dashboard",
    "buffer": "Buffer (adopted from its queue)",
}


def label(source: str) -> str:
    """Who made a change, in words (an unknown source is named as it is)."""
    return SOURCES.get(source, source)
