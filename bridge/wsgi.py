"""The WSGI entry point for gunicorn: `gunicorn bridge.wsgi:app`."""

from bridge import create_app

app = create_app()
