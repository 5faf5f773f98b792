"""The shared calendar's settings the coordinators edit (the fatigue window N of the conflicts)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from tenants.models import User
from warroom.activity import activity_params
from warroom.models import Activity, CalendarSettings

#: The widest fatigue window one may set (the model's check constraint says the same).
MAX_CONFLICT_DAYS = 60


@transaction.atomic
def calendar_settings_save(*, conflict_days: int, by: User) -> CalendarSettings:
    """Set the fatigue window: campaigns on one base and channel closer than `conflict_days` days
    warn. Logged; the calendar's caches follow through warroom.changes (the row's save)."""
    if not 0 <= conflict_days <= MAX_CONFLICT_DAYS:
        raise ValidationError(
            {"conflict_days": [_("Choose between 0 and %(max)s days.") % {"max": MAX_CONFLICT_DAYS}]}
        )
    row, _created = CalendarSettings.objects.update_or_create(
        pk=1, defaults={"conflict_days": conflict_days, "updated_by": by}
    )
    Activity.objects.create(actor=by, code="conflict_days_set", params=activity_params(days=conflict_days))
    return row
