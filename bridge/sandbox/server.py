"""Serving a sandbox on a real socket: in a background thread for tests, or in the foreground.

Werkzeug's threaded development server is used on purpose: the drop fault needs
its `werkzeug.socket` environ key, and one process serving a few clients is all
a simulator needs.
"""

from __future__ import annotations

import threading

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from bridge.sandbox.app import SandboxApp
from bridge.sandbox.state import Sandbox, SandboxConfig

__all__ = ["RunningSandbox", "serve_forever", "start"]


class _RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, logging paths without query strings (tokens may travel there)."""

    quiet = False

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.quiet:
            return
        path = getattr(self, "path", "").split("?", 1)[0]
        self.log("info", '"%s %s" %s', self.command, path, code)


class _QuietRequestHandler(_RequestHandler):
    quiet = True


class RunningSandbox:
    """A sandbox served by a background thread; `url` is its v1 base URL (ends in `/1/`)."""

    def __init__(self, sandbox: Sandbox, server: BaseWSGIServer, thread: threading.Thread) -> None:
        self.sandbox = sandbox
        self.server = server
        self.thread = thread
        self.host = server.host
        self.port = server.port
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.root_url = f"http://{host}:{self.port}/"
        self.url = f"{self.root_url}1/"

    def stop(self) -> None:
        """Stop serving and close the socket; requests asleep in a slow fault are woken first."""
        self.sandbox.shutdown()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start(
    config: SandboxConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    sandbox: Sandbox | None = None,
    quiet: bool = True,
) -> RunningSandbox:
    """Serve `sandbox` (or a new one from `config`) in a daemon thread; returns once it listens.

    Port 0 picks a free port (see `RunningSandbox.port`). Raises OSError when the
    address cannot be bound.
    """
    app = SandboxApp(sandbox if sandbox is not None else config)
    handler = _QuietRequestHandler if quiet else _RequestHandler
    server = make_server(host, port, app, threaded=True, request_handler=handler)
    thread = threading.Thread(target=server.serve_forever, name="buffer-sandbox", daemon=True)
    thread.start()
    return RunningSandbox(app.sandbox, server, thread)


def serve_forever(
    config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 8765
) -> None:
    """Serve a sandbox in the foreground until interrupted (`bridge sandbox`).

    Prints one line with the v1 URL and account names once it listens.
    """
    app = SandboxApp(config)
    server = make_server(host, port, app, threaded=True, request_handler=_RequestHandler)
    shown = f"[{host}]" if ":" in host else host
    names = ", ".join(a["name"] for a in app.sandbox.accounts())
    root = f"http://{shown}:{server.port}/"
    v1 = "v1 retired (410)" if app.sandbox.config.graphql_only else f"v1 {root}1/"
    print(
        f"Buffer sandbox: {v1}, GraphQL {root}graphql (accounts: {names})",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        app.sandbox.shutdown()
        server.server_close()
