"""The dashboard at /ui: server-rendered pages over the same service layer, scopes and
read-only rules as the REST API. An adapter beside bridge/api and bridge/hooks: it imports
bridge/web and the service layer, never another adapter.

Sessions: a client token is given once (the sign-in form, or a one-time link from
`bridge dev`, spent only by the button on its page, see bridge/signin.py); the session
cookie then holds the client's id and its token hash, signed with SECRET_KEY (Flask's
cookie session). Every request loads the client again and compares the hash, so revoking
a client (or giving it a new token) ends its sessions at once. The cookie also holds
the client's session generation (`ApiClient.ui_session`) as it was at sign-in; signing
out adds one to it, so every cookie of that client signed in before, a copy of the one
signed out with included, stops working, though Flask would still accept its signature
for 12 hours. It ends the client's other dashboard sessions too: the generation is kept
per client, not per sign-in, so no table of sessions needs keeping. The cookie is HttpOnly,
SameSite=Lax, path /ui, and Secure when the request came over https (gunicorn sets the
scheme from a trusted proxy's X-Forwarded-Proto, FORWARDED_ALLOW_IPS).

CSRF: a random token per session, kept in that signed cookie and put in every form;
a POST without the same token is refused (400) before anything changes. Flask-WTF's
CSRFProtect would do the same check, but it reads the form in its own before_request,
before this blueprint has authenticated the session; this way a request is
authenticated from its cookie first, and only then is its (size-limited) body read.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from typing import Any

from flask import (
    Flask,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface

from bridge import identity, models
from bridge.config import Settings
from bridge.errors import BridgeError, MalformedBody, ServiceUnavailable, Unauthorized
from bridge.web import limits
from bridge.web.caller import services

SESSION_LIFETIME = dt.timedelta(hours=12)
COOKIE = "bridge_ui"
PUBLIC_ENDPOINTS = frozenset({"ui.signin", "ui.login_confirm", "ui.login_link", "ui.static"})
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, Secure exactly when the request came over https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(request.is_secure)


def init_app(app: Flask, settings: Settings) -> None:
    """Register /ui. Without SECRET_KEY its pages answer 503 saying so."""
    from bridge.ui.views import blp

    if settings.secret_key:
        app.secret_key = settings.secret_key
    app.session_interface = SessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE,
        SESSION_COOKIE_PATH="/ui",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    app.register_blueprint(blp)


def before_request() -> Any:
    """Authenticate from the cookie (no body read yet), then check a POST's CSRF token."""
    if not current_app.secret_key:
        raise ServiceUnavailable(
            "the dashboard is off: set SECRET_KEY (32+ random characters) to turn it on"
        )
    g.ui_client = None
    if request.endpoint not in PUBLIC_ENDPOINTS:
        client = session_client()
        if client is None:
            if request.method == "GET" and not request.path.endswith(".json"):
                # the path only: a query string could carry a token, never echoed
                return redirect(url_for("ui.signin", next=request.path))
            raise Unauthorized("sign in first: your session has ended")
        g.ui_client = client
        g.client_name = client.name
        limits.check_client_rate(services(), client)
    if request.method == "POST":
        check_csrf()
    return None


def session_client() -> models.ApiClient | None:
    """The client this session signed in as, while it is live with the same token."""
    client_id, token_hash = session.get("client_id"), session.get("token_hash")
    generation = session.get("generation")
    if not isinstance(client_id, int) or not isinstance(token_hash, str):
        return None
    client = identity.dashboard_client(services(), client_id, token_hash, generation)
    if client is None:
        session.clear()
    return client


def sign_in(client: models.ApiClient) -> None:
    """Start a fresh session for `client` (a new CSRF token: none carried over)."""
    session.clear()
    session.permanent = True
    session["client_id"] = client.id
    session["token_hash"] = client.token_hash
    session["generation"] = client.ui_session
    session["csrf"] = secrets.token_urlsafe(32)


def sign_out(client: models.ApiClient) -> None:
    """End every dashboard session of `client`, this one and any copy of its cookie."""
    identity.end_dashboard_sessions(services(), client.id)
    session.clear()


def csrf_token() -> str:
    """This session's CSRF token, made on first use (the sign-in form has one too)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """MalformedBody (400) unless the form (or X-CSRF-Token) carries this session's token."""
    expected = session.get("csrf")
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    if not isinstance(expected, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise MalformedBody(
            "this form has expired or did not come from this dashboard (CSRF token missing "
            "or wrong): reload the page and try again"
        )


def security_headers(response: Response) -> Response:
    """No caching of pages with schedules on them, no framing, scripts only from here."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "ui.static":
        response.headers["Cache-Control"] = "no-store"
    return response


def render_error(error: BridgeError) -> Any:
    """A bridge error as a page (or JSON for the status endpoints), with its status."""
    status = error.http_status
    if request.path.endswith(".json") or request.accept_mimetypes.best == "application/json":
        return {"status": status, "message": error.message}, status
    client = g.get("ui_client")
    return render_template("error.html", status=status, message=error.message, me=client), status
