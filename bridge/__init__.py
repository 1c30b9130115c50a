"""buffer-bridge: drive Buffer posting schedules from webhooks, chat, REST and timers."""

from __future__ import annotations

from importlib import metadata
from typing import Any

from flask import Flask

try:  # defined once, in pyproject.toml; a checkout used without installing has none
    __version__ = metadata.version("buffer-bridge")
except metadata.PackageNotFoundError:
    __version__ = "0+unknown"
MAX_BODY_BYTES = 64 * 1024
DOCS_ASSETS = "/static/docs"  # bridge/static/docs, Flask's static folder


def create_app(settings: Any = None, services: Any = None) -> Flask:
    """The Flask app: REST API, webhooks, chat, the dashboard (/ui), health and metrics.
    Nothing runs at import."""
    from bridge import hooks, logs, metrics, ui
    from bridge.api import (
        accounts,
        deliveries,
        health,
        jobs,
        me,
        posts,
        presets,
        profiles,
        rotations,
        snapshots,
        subscriptions,
    )
    from bridge.config import load_settings
    from bridge.services import Services
    from bridge.web import framing, limits
    from bridge.web.errors import Api
    from bridge.web.request import Request

    settings = settings or load_settings()
    app = Flask(__name__)
    app.request_class = Request  # 413 for an over-long body however it is framed
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        API_TITLE="buffer-bridge",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        # pinned copies served from the package (scripts/vendor-docs-assets.sh): people
        # paste tokens on these pages, so they load no third-party script
        OPENAPI_SWAGGER_UI_URL=f"{DOCS_ASSETS}/swagger-ui/",
        OPENAPI_REDOC_PATH="/redoc",
        OPENAPI_REDOC_URL=f"{DOCS_ASSETS}/redoc/redoc.standalone.js",
        # security declared once: every operation needs a client token unless it says not
        API_SPEC_OPTIONS={
            "security": [{"bearer": []}],
            "components": {
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "bb_..."}
                }
            },
        },
    )
    app.extensions["bridge"] = services or Services(settings)
    api = Api(app)
    for blueprint in (
        profiles.blp,
        posts.blp,
        jobs.blp,
        snapshots.blp,
        accounts.blp,
        me.blp,
        presets.blp,
        rotations.blp,
        subscriptions.blp,
        deliveries.blp,
    ):
        api.register_blueprint(blueprint)
    hooks.register(app, api)
    app.register_blueprint(health.blp)
    ui.init_app(app, settings)
    limits.init_app(app, settings.wait_max_concurrent)
    framing.init_app(app)
    logs.init_app(app)
    metrics.init_app(app)
    return app
