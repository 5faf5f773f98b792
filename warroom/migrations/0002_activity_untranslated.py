"""Activity entries stored as a code and its parameters, translated on display (issue 13); the
calendar's settings the coordinators edit (the fatigue window).

Existing rows are converted where their text is one of the known sentences, in English or in
Brazilian Portuguese (the languages they were written in); a row that matches none keeps its text."""

import re
from datetime import datetime

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import translation

# Frozen copy of warroom.activity.VERBS as it was when this migration was written.
VERBS = {
    "column_added": "added the column “%(name)s”",
    "column_changed": "changed the column “%(name)s”",
    "column_removed": "removed the column “%(name)s”",
    "columns_reordered": "reordered the columns",
    "action_created": "created the action",
    "action_changed": "changed the action",
    "action_assigned": "made %(owner)s responsible",
    "action_moved": "moved it from “%(old)s” to “%(new)s”",
    "deadline_set": "set the deadline to %(day)s",
    "checklist_added": "added “%(item)s” to the checklist",
    "checklist_ticked": "ticked “%(item)s”",
    "checklist_unticked": "unticked “%(item)s”",
    "commented": "commented",
    "campaign_created": "created the campaign",
    "campaign_changed": "changed the campaign",
    "campaign_moved": "moved the campaign from %(old)s to %(new)s",
    "campaign_proposed": "proposed the campaign to the source UDNs",
    "source_approved": "approved for %(udn)s",
    "source_declined": "declined for %(udn)s",
    "campaign_launched": "launched the campaign in the source UDNs",
}
DATES = {"deadline_set": ("day",), "campaign_moved": ("old", "new")}
WITH_COMMENT = {"source_approved", "source_declined"}
PARAM = re.compile(r"%\((\w+)\)s")


def _pattern(code, template):
    parts = PARAM.split(template)
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
    if code in WITH_COMMENT:
        regex += "(?:: (?P<comment>.*))?"
    return re.compile(f"^{regex}$", re.DOTALL)


def _patterns():
    patterns = []
    for language in ("en", "pt-br"):
        with translation.override(language):
            for code, template in VERBS.items():
                patterns.append((code, _pattern(code, translation.gettext(template))))
    return patterns


def forwards(apps, schema_editor):
    Activity = apps.get_model("warroom", "Activity")
    patterns = _patterns()
    changed = []
    for row in Activity.objects.filter(code="").exclude(verb="").iterator():
        for code, pattern in patterns:
            match = pattern.match(row.verb)
            if match is None:
                continue
            params = {k: v for k, v in match.groupdict().items() if v is not None}
            try:
                for name in DATES.get(code, ()):
                    params[name] = datetime.strptime(params[name], "%d/%m/%Y").date().isoformat()
            except ValueError:
                continue
            row.code, row.params, row.verb = code, params, ""
            changed.append(row)
            break
    Activity.objects.bulk_update(changed, ["code", "params", "verb"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("warroom", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="activity",
            name="code",
            field=models.CharField(blank=True, max_length=40, verbose_name="what"),
        ),
        migrations.AddField(
            model_name="activity",
            name="params",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AlterField(
            model_name="activity",
            name="verb",
            field=models.CharField(blank=True, max_length=300, verbose_name="what"),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.CreateModel(
            name="CalendarSettings",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "conflict_days",
                    models.PositiveSmallIntegerField(
                        validators=[django.core.validators.MaxValueValidator(60)],
                        verbose_name="fatigue window (days)",
                    ),
                ),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="updated at")),
                (
                    "updated_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "calendar settings",
                "verbose_name_plural": "calendar settings",
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("pk", 1)), name="calendarsettings_one_row"),
                    models.CheckConstraint(
                        condition=models.Q(("conflict_days__lte", 60)), name="calendarsettings_days_range"
                    ),
                ],
            },
        ),
    ]
