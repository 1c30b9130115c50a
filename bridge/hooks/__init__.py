"""Inbound adapters: Zapier, IFTTT, Standard Webhooks, Slack and Mattermost.

Each turns its source's request into the one `changes.ChangeRequest` and submits it
through the service layer (`bridge.changes`), exactly as the REST API does; none talks
to Buffer itself, and none imports the REST adapter.
"""

from __future__ import annotations

from typing import Any

from flask import Flask


def register(app: Flask, api: Any) -> None:
    """Add the /hooks/ and /chat/ routes, and keep path tokens out of the logs."""
    from bridge import logs
    from bridge.hooks import ifttt, mattermost, redact, signed, slack, webhook, zapier

    api.spec.components.schema("WebhookChange", schema=webhook.WebhookChangeSchema)
    logs.install_scrubber()
    app.wsgi_app = redact.TokenPathMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    for module in (zapier, ifttt, signed, slack, mattermost):
        api.register_blueprint(module.blp)
