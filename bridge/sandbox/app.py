"""The sandbox as one WSGI application: werkzeug routing from a path to the API that answers it.

    /1/...          Buffer API v1 (`v1.V1`): every path, so that the token, rate
                    limit and faults apply before v1 decides the path is unknown
    /graphql, POST /  Buffer's GraphQL API (`graphql.GraphQL`), over the same state
    /__sandbox/...  the control API (`control.Control`)
    anything else   Buffer's 404 `{"error": "Endpoint not found", "code": 404}`

GraphQL-only mode (`SandboxConfig.graphql_only`, `bridge sandbox --graphql-only`)
shows an account after Buffer retires v1 ("requests to legacy endpoints will no
longer return data"): every `/1/` request, whatever its token, answers
`410 Gone` with Buffer's error shape and a message naming the GraphQL API, and
is recorded. 410 rather than an empty 200 (which a client would take for "no
profiles") or a 401 (which reads as a bad token): the endpoint is gone for good.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import BaseConverter, Map, Rule
from werkzeug.wrappers import Request, Response

from bridge.sandbox.control import Control
from bridge.sandbox.graphql import GraphQL
from bridge.sandbox.state import RequestRecord, Sandbox, SandboxConfig
from bridge.sandbox.v1 import V1, buffer_error, find_token

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
        graphql = GraphQL(self.sandbox)
        self.control = Control(self.sandbox)
        self._handlers: dict[str, Callable[[Request], Response]] = {
            "v1": self._retired if self.sandbox.config.graphql_only else v1,
            "graphql": graphql,
            "graphql_root": lambda r: graphql(r) if r.method == "POST" else self._not_found(r.path),
            **self.control.handlers,
        }
        self.url_map = Map(
            [
                Rule("/1/<rest:rest>", endpoint="v1"),
                Rule("/graphql", endpoint="graphql"),
                Rule("/", endpoint="graphql_root"),
                *self.control.rules(),
            ],
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

    def _retired(self, request: Request) -> Response:
        """A v1 request in GraphQL-only mode: 410, recorded like any other."""
        token = find_token(request, [])
        self.sandbox.record(
            RequestRecord(
                time=time.time(),
                method=request.method,
                path=request.path,
                token=self.sandbox.label_of(token),
                status=410,
                fault=None,
                form=None,
                duration=0.0,
            )
        )
        return buffer_error(
            410,
            "Buffer's v1 API has been retired and no longer returns data: "
            "use the GraphQL API at https://api.buffer.com with an API key",
            410,
        )

    def _not_found(self, path: str) -> Response:
        if path == "/__sandbox" or path.startswith("/__sandbox/"):
            return self.control.not_found()
        return buffer_error(404, "Endpoint not found", 404)
