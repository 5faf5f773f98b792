"""The Celery app. tenant-schemas-celery's CeleryApp: every task carries the
schema it was queued from (header `_schema_name`) and runs inside it."""

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

app = CeleryApp("crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
