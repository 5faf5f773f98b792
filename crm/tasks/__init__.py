"""Celery tasks of the CRM core; each concern has its module, imported here so
`app.autodiscover_tasks()` registers them all."""
