"""Reading a request body safely, for every adapter: never more than the size limit
however the body is framed, and never JSON nested deeper than any caller needs.

Werkzeug enforces MAX_CONTENT_LENGTH on a declared Content-Length (413), but a chunked
body (`wsgi.input_terminated`, no Content-Length) is read through a stream that stops
at the limit without saying so: the first 64 KiB came back as the whole body and the
truncated form was accepted. `Request.stream` reads at most limit + 1 bytes instead,
and answers 413 when there are more.
"""

from __future__ import annotations

import io
import re
from typing import IO

import flask
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property

from bridge.errors import MalformedBody, UnsupportedMediaType

MAX_JSON_DEPTH = 32  # a webhook or REST body nests 3 deep; json.loads recurses per level
# a JSON string (skipped whole, possessively: no backtracking) or a bracket
_JSON_TOKEN = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{}]', re.DOTALL)


def check_json_depth(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """MalformedBody (400) when the JSON text nests arrays and objects more than `limit`
    deep. Linear in the text; brackets inside strings do not count."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if text.count("[") + text.count("{") <= limit:
        return  # cannot be deeper than its number of openings
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                raise MalformedBody(f"the JSON body nests deeper than {limit} levels", "body")
        elif token in "]}":
            depth -= 1


def check_request_json() -> None:
    """check_json_depth on this request's body when it is JSON (read once, cached)."""
    request = flask.request
    if request.is_json and request.content_length != 0:
        check_json_depth(request.get_data(cache=True))


BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def check_json_content_type() -> None:
    """UnsupportedMediaType (415) for a POST, PUT or PATCH whose body is not declared as
    JSON. REST bodies are JSON only; a bare `curl -d '{...}'` sends them as a form, and
    without this the answer named every required field as missing."""
    request = flask.request
    if request.method not in BODY_METHODS or request.is_json:
        return
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if not request.content_length and not chunked:
        return  # no body: nothing to misread (e.g. POST /v1/snapshots)
    sent = request.mimetype or "none"
    raise UnsupportedMediaType(
        f"the body must be JSON, sent with the header Content-Type: application/json "
        f"(this request's Content-Type: {sent}); with curl: -H 'Content-Type: application/json'"
    )


class Request(flask.Request):
    """Flask's request, with a body limit that holds for chunked bodies too."""

    @cached_property
    def stream(self) -> IO[bytes]:
        """The body stream; 413 (RequestEntityTooLarge) for a body over the limit, whether
        it declares its length or arrives chunked."""
        limit = self.max_content_length
        environ = self.environ
        if (
            limit is None
            or "wsgi.input_terminated" not in environ
            or self.content_length is not None
        ):
            return super().stream
        raw: IO[bytes] = environ["wsgi.input"]
        buffered = bytearray()
        while len(buffered) <= limit:
            chunk = raw.read(limit + 1 - len(buffered))
            if not chunk:
                break
            buffered += chunk
        if len(buffered) > limit:
            raise RequestEntityTooLarge()
        return io.BytesIO(bytes(buffered))
