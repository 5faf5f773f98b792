"""Celery tasks of messaging; each concern has its module, imported here so
`app.autodiscover_tasks()` registers them all."""

from campaigns.tasks import (
    messages,  # noqa: F401
)
