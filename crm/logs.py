"""Logging helpers referenced from settings.LOGGING."""

from __future__ import annotations

import logging


class RefusalsOnOneLine(logging.Filter):
    """A refused request (403, a CSRF failure, a suspicious host) is an expected event: log the one
    warning line Django writes, without the traceback of the PermissionDenied that caused it."""

    def filter(self, record: logging.LogRecord) -> bool:
        refused = record.name.startswith("django.security") or (
            record.name == "django.request" and getattr(record, "status_code", None) == 403
        )
        if refused:
            record.exc_info = None
            record.exc_text = None
        return True
