"""gunicorn's config module: `gunicorn -c python:bridge.gunicorn_conf bridge.wsgi:app`.

gunicorn takes a config module's globals as its settings, so this module sets them,
from the environment through bridge.config, when gunicorn imports it. The values and
why they were chosen are in bridge.web_server.options; nothing else imports this.
"""

from bridge.config import load_settings
from bridge.web_server import options

globals().update(options(load_settings()))
