"""Celery wiring and thin tasks: ids in, a call into `bridge`, retries declared on the task."""
