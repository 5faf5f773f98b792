"""Journeys by channel (insights' channels page): per journey, version and channel, the messages
its send steps wrote (sent → delivered → read → clicked, counted as a campaign's funnel counts
them: campaigns.selectors.campaigns.REACHED) and, among the enrollments a channel reached, those
that converted (the journey's goal). The uplift vs the holdout and between split arms comes from
campaigns.selectors.journeys.journey_results (Newcombe's interval).

A journey's message carries no enrollment: it is the one the send step wrote for the enrollment's
affiliate at the instant the step was logged (the engine writes both with the batch's `now`), with
one of that step's templates. A fallback message (written later, when the first channel failed)
is not counted here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from campaigns.models import (
    Enrollment,
    EnrollmentStatus,
    JourneyStepLog,
    JourneyVersion,
    Message,
    MessageSource,
    MessageTemplate,
)
from campaigns.selectors.campaigns import FUNNEL, REACHED


@dataclass(frozen=True)
class JourneyChannel:
    journey_id: int
    journey: str
    version: int
    channel: str
    messages: int
    sent: int
    delivered: int
    read: int
    clicked: int
    enrollments: int  # enrollments the channel wrote a message for (intention to treat)
    converted: int  # ... that reached the journey's goal

    @property
    def conversion_rate(self) -> float | None:
        return self.converted / self.enrollments if self.enrollments else None


def _send_templates(versions: list[JourneyVersion]) -> list[tuple[int, str, int]]:
    """(version id, step id, template id) of every send step of these versions' graphs."""
    slugs = {
        slug
        for version in versions
        for step in version.graph.get("steps", [])
        if step.get("type") == "send"
        for slug in (step.get("templates") or {}).values()
    }
    ids = dict(MessageTemplate.objects.filter(slug__in=slugs).values_list("slug", "pk"))
    return [
        (version.pk, str(step["id"]), ids[slug])
        for version in versions
        for step in version.graph.get("steps", [])
        if step.get("type") == "send"
        for slug in set((step.get("templates") or {}).values())
        if slug in ids
    ]


def journey_channel_funnels(*, entered_from: datetime, entered_to: datetime) -> list[JourneyChannel]:
    """Per journey, version and channel, for the enrollments that entered in [entered_from,
    entered_to): what the send steps wrote and how far it went, and conversions. Journeys by
    name, versions by number, channels by code."""
    versions = journey_versions_entered(entered_from=entered_from, entered_to=entered_to)
    sends = _send_templates(versions)
    if not sends:
        return []
    t = connection.ops.quote_name
    reached = {
        str(step): [str(status) for status in REACHED[step]] for step in FUNNEL
    }  # sent, delivered, read, clicked
    sql = f"""
        WITH sends(version_id, step, template_id) AS (
            SELECT * FROM unnest(%(versions)s::bigint[], %(steps)s::text[], %(templates)s::bigint[])
        )
        SELECT e.version_id, m.channel,
               count(DISTINCT m.id),
               count(DISTINCT m.id) FILTER (WHERE m.status = ANY(%(sent)s)),
               count(DISTINCT m.id) FILTER (WHERE m.status = ANY(%(delivered)s)),
               count(DISTINCT m.id) FILTER (WHERE m.status = ANY(%(read)s)),
               count(DISTINCT m.id) FILTER (WHERE m.status = ANY(%(clicked)s)),
               count(DISTINCT e.id),
               count(DISTINCT e.id) FILTER (WHERE e.status = %(converted)s)
        FROM {t(Enrollment._meta.db_table)} e
        JOIN {t(JourneyStepLog._meta.db_table)} l
          ON l.enrollment_id = e.id AND l.outcome IN ('sent', 'suppressed')
        JOIN sends s ON s.version_id = e.version_id AND s.step = l.step
        JOIN {t(Message._meta.db_table)} m
          ON m.affiliate_id = e.affiliate_id AND m.created_at = l.at AND m.source = %(source)s
         AND m.template_id = s.template_id
        WHERE e.version_id = ANY(%(versions)s) AND e.entered_at >= %(start)s AND e.entered_at < %(end)s
        GROUP BY 1, 2
    """  # noqa: S608 - table names from the models' meta, values are parameters
    params: dict[str, Any] = {
        "versions": [v for v, _s, _t in sends],
        "steps": [s for _v, s, _t in sends],
        "templates": [t_ for _v, _s, t_ in sends],
        "converted": EnrollmentStatus.CONVERTED.value,
        "source": MessageSource.JOURNEY.value,
        "start": entered_from,
        "end": entered_to,
        **reached,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    by_id = {version.pk: version for version in versions}
    out = [
        JourneyChannel(
            journey_id=by_id[version_id].journey_id,
            journey=by_id[version_id].journey.name,
            version=by_id[version_id].number,
            channel=channel,
            messages=messages,
            sent=sent,
            delivered=delivered,
            read=read,
            clicked=clicked,
            enrollments=enrollments,
            converted=converted,
        )
        for version_id, channel, messages, sent, delivered, read, clicked, enrollments, converted in rows
    ]
    return sorted(out, key=lambda row: (row.journey, row.journey_id, row.version, row.channel))


def journey_versions_entered(*, entered_from: datetime, entered_to: datetime) -> list[JourneyVersion]:
    """The versions (with their journey) that enrollments entered in [entered_from, entered_to),
    by journey name and version number."""
    return list(
        JourneyVersion.objects.filter(
            enrollments__entered_at__gte=entered_from, enrollments__entered_at__lt=entered_to
        )
        .select_related("journey")
        .distinct()
        .order_by("journey__name", "journey_id", "number")
    )
