"""What the outbound-event tests share: a receiver that verifies Standard Webhooks
signatures, subscribing one, and the deliveries waiting to be sent."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from bridge import models
from bridge.services import Services
from tests.conftest import serving


class SignedReceiver:
    """A local receiver that verifies every delivery with the `standardwebhooks` library."""

    def __init__(self) -> None:
        self.secret: str | None = None
        self.events: list[dict[str, Any]] = []
        self.ids: list[str] = []  # webhook-id of every post, verified or not
        self.failures = 0
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.ids.append(self.headers.get("webhook-id", ""))
                if receiver.failures > 0:
                    receiver.failures -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                assert receiver.secret is not None
                receiver.events.append(Webhook(receiver.secret).verify(raw, headers))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/events"

    def of(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == type_]


@pytest.fixture
def signed_receiver() -> Iterator[SignedReceiver]:
    running = SignedReceiver()
    with serving(running.server):
        yield running


def subscribe(client: Any, headers: dict[str, str], receiver: SignedReceiver, **body: Any) -> int:
    body = {"url": receiver.url, "events": ["*"], **body}
    answer = client.post("/v1/subscriptions", json=body, headers=headers)
    assert answer.status_code == 201, answer.get_json()
    made = answer.get_json()
    assert made["secret"].startswith("whsec_")
    receiver.secret = made["secret"]
    return int(made["id"])


def pending(services: Services) -> list[int]:
    with services.db.session() as session:
        rows = session.query(models.EventDelivery).filter_by(status=models.DELIVERY_PENDING)
        return [row.id for row in rows]
