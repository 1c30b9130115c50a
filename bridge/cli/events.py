"""`bridge events listen`: a tiny local receiver that prints events it verified.

For trying subscriptions out (docs/events.md): subscribe http://127.0.0.1:PORT/ with
OUTBOUND_ALLOW_PRIVATE=true (`bridge dev` sets it when it runs the sandbox), then give
this the `whsec_...` secret the subscription answered with.
"""

from __future__ import annotations

import base64
import binascii
import json
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import click
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bridge.cli.base import main


@main.group()
def events() -> None:
    """Outbound events: try a subscription locally."""


def _signing_secret(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """The secret, when it is a Standard Webhooks one (whsec_ and base64); a usage error
    naming --secret otherwise, so a wrong paste (a client token, the URL) is told at once
    instead of every event being refused later."""
    from bridge.auth import SIGNING_SECRET_PREFIX as PREFIX

    value = value.strip()
    try:
        key = base64.b64decode(value.removeprefix(PREFIX), validate=True)
        key = key if value.startswith(PREFIX) else b""
    except binascii.Error:
        key = b""
    if not key:
        raise click.BadParameter(
            "expected the subscription's signing secret, whsec_ followed by base64 (the "
            '"secret" that POST /v1/subscriptions answered with)'
        )
    return value


@events.command("listen")
@click.option("--port", default=8099, show_default=True, help="port on 127.0.0.1")
@click.option(
    "--secret",
    envvar="BRIDGE_EVENTS_SECRET",
    required=True,
    callback=_signing_secret,
    help="the subscription's whsec_... secret (or BRIDGE_EVENTS_SECRET)",
)
def listen(port: int, secret: str) -> None:
    """Print each event posted to http://127.0.0.1:PORT/ whose signature verifies."""
    hook = Webhook(secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                event: Any = hook.verify(raw, headers)
            except (WebhookVerificationError, ValueError) as error:
                click.echo(f"REFUSED (signature: {error})", err=True)
                self.send_response(401)
                self.end_headers()
                return
            data = event.get("data", {})
            click.echo(
                f"verified {event.get('type')} {event.get('id')} seq={event.get('sequence')} "
                f"{data.get('profile_label') or data.get('account') or ''}: "
                f"{data.get('diff_text') or data.get('summary') or ''}"
            )
            click.echo(json.dumps(event, indent=2, ensure_ascii=False))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = HTTPServer(("127.0.0.1", port), Handler)
    click.echo(f"listening on http://127.0.0.1:{port}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
