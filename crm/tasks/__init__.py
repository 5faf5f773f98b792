"""Celery tasks of the CRM core; each concern has its module, imported here so
`app.autodiscover_tasks()` registers them all."""

from crm.tasks import (
    imports,  # noqa: F401
    lake,  # noqa: F401
    quality,  # noqa: F401
    segments,  # noqa: F401
    webhooks,  # noqa: F401
)
