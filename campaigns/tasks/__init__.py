"""Celery tasks of messaging; each concern has its module, imported here so
`app.autodiscover_tasks()` registers them all."""

from campaigns.tasks import (
    campaigns,  # noqa: F401
    journeys,  # noqa: F401
    messages,  # noqa: F401
)
