"""The sandbox as one WSGI application: werkzeug routing from a path to the API that answers it.

    /1/...          Buffer API v1 (`v1.V1`): every path, so that the token, rate
                    limit and faults apply before v1 decides the path is unknown
    /__sandbox/...  the control API (`control.Control`)
    anything else   Buffer's 404 `{"error": "Endpoint not found", "code": 404}`

A second API over the same state (GraphQL) is one more Rule and handler here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import BaseConverter, Map, Rule
from werkzeug.wrappers import Request, Response

from bridge.sandbox.control import Control
from bridge.sandbox.state import Sandbox, SandboxConfig
from bridge.sandbox.v1 import V1, buffer_error

__all__ = ["SandboxApp"]


class _Rest(BaseConverter):
    """The rest of the path, empty or starting with a slash included (werkzeug's `path` is not)."""

    regex = ".*"
    part_isolating = False


class SandboxApp:
    """A WSGI application serving the APIs of one Sandbox."""

    def __init__(self, sandbox: Sandbox | SandboxConfig | None = None) -> None:
        """Serve `sandbox`, or a new Sandbox built from a config (default config when None)."""
        self.sandbox = sandbox if isinstance(sandbox, Sandbox) else Sandbox(sandbox)
        v1 = V1(self.sandbox)
        self.control = Control(self.sandbox)
        self._handlers: dict[str, Callable[[Request], Response]] = {
            "v1": v1,
            **self.control.handlers,
        }
        self.url_map = Map(
            [Rule("/1/<rest:rest>", endpoint="v1"), *self.control.rules()],
            converters={"rest": _Rest},
            merge_slashes=False,
        )

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """Answer one request; a drop fault raises faults.Dropped to the server instead."""
        request = Request(environ)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            endpoint, _ = adapter.match(request.path, method=request.method)
        except NotFound:
            response = self._not_found(request.path)
        except MethodNotAllowed as exc:  # only control rules name their methods
            response = self.control.method_not_allowed(exc.valid_methods or ())
        else:
            response = self._handlers[endpoint](request)
        return response(environ, start_response)

    def _not_found(self, path: str) -> Response:
        if path == "/__sandbox" or path.startswith("/__sandbox/"):
            return self.control.not_found()
        return buffer_error(404, "Endpoint not found", 404)
