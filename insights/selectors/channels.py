"""Channels and campaigns: what each channel did for the broadcasts launched in the period (sent,
delivered, read, clicked) and each campaign's uplift over its holdout, with the 95% confidence
interval of the difference (campaigns' Newcombe interval) and the sample sizes."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from campaigns.models import Campaign
from campaigns.selectors.campaigns import Interval, campaign_results
from campaigns.selectors.journey_channels import journey_channel_funnels, journey_versions_entered
from campaigns.selectors.journeys import Arm, journey_results
from insights.selectors.dashboards import Column, Filters, Page, Table
from insights.services.rollups import udn_time_zone


def channels_page(*, filters: Filters) -> Page:
    zone = ZoneInfo(udn_time_zone())
    start = datetime.combine(filters.start, time.min, zone)
    end = datetime.combine(filters.end + timedelta(days=1), time.min, zone)
    campaigns = Campaign.objects.filter(launched_at__gte=start, launched_at__lt=end).order_by(
        "launched_at", "pk"
    )
    by_channel: dict[str, list[int]] = {}
    uplift = []
    for campaign in campaigns:
        results = campaign_results(campaign=campaign)
        for funnel in results.channels:
            acc = by_channel.setdefault(funnel.channel, [0, 0, 0, 0, 0])
            for i, value in enumerate(
                (funnel.messages, funnel.sent, funnel.delivered, funnel.read, funnel.clicked)
            ):
                acc[i] += value
        conversion = results.conversion
        if conversion is None:
            continue
        interval = conversion.interval
        uplift.append(
            (
                campaign.name,
                conversion.goal_event,
                conversion.treated,
                conversion.treated_converted,
                conversion.treated_rate,
                conversion.holdout,
                conversion.holdout_converted,
                conversion.holdout_rate,
                interval.difference if interval else None,
                interval.low if interval else None,
                interval.high if interval else None,
                (str(_("significant")) if interval.significant else str(_("not significant")))
                if interval
                else str(_("no holdout")),
            )
        )
    rows = []
    for channel, (messages, sent, delivered, read, clicked) in sorted(by_channel.items()):
        rows.append(
            (
                channel,
                messages,
                sent,
                delivered,
                read,
                clicked,
                delivered / sent if sent else None,
                read / delivered if delivered else None,
                clicked / delivered if delivered else None,
            )  # fmt: skip
        )
    journey_rows = [
        (
            f"{row.journey} (v{row.version})",
            row.channel,
            row.messages,
            row.sent,
            row.delivered,
            row.read,
            row.clicked,
            row.enrollments,
            row.converted,
            row.conversion_rate,
        )
        for row in journey_channel_funnels(entered_from=start, entered_to=end)
    ]
    return Page(
        "channels",
        _("Channels and campaigns"),
        [
            Table(
                "channels",
                _("Messages by channel"),
                [
                    Column(_("Channel"), "channel"),
                    Column(_("Messages")),
                    Column(_("Sent")),
                    Column(pgettext_lazy("messages, a column", "Delivered")),
                    Column(_("Read")),
                    Column(_("Clicked")),
                    Column(_("Delivery rate"), "share"),
                    Column(_("Read rate"), "share"),
                    Column(_("Click rate"), "share"),
                ],  # fmt: skip
                rows,
                chart="bar",
                series=[2, 3, 4, 5],
            ),
            Table(
                "uplift",
                _("Conversion vs holdout (95% confidence interval)"),
                [
                    Column(_("Campaign"), "text"),
                    Column(_("Goal"), "text"),
                    Column(_("Treated")),
                    Column(_("Treated converted")),
                    Column(_("Treated rate"), "share"),
                    Column(_("Holdout")),
                    Column(_("Holdout converted")),
                    Column(_("Holdout rate"), "share"),
                    Column(_("Uplift"), "share"),
                    Column(_("CI low"), "share"),
                    Column(_("CI high"), "share"),
                    Column(_("Result"), "text"),
                ],  # fmt: skip
                uplift,
            ),
            Table(
                "journey_channels",
                _("Journeys by channel (enrollments entered in the period)"),
                [
                    Column(_("Journey"), "text"),
                    Column(_("Channel"), "channel"),
                    Column(_("Messages")),
                    Column(_("Sent")),
                    Column(pgettext_lazy("messages, a column", "Delivered")),
                    Column(_("Read")),
                    Column(_("Clicked")),
                    Column(_("Enrollments reached")),
                    Column(_("Converted")),
                    Column(_("Conversion rate"), "share"),
                ],  # fmt: skip
                journey_rows,
                chart="bar",
                series=[3, 4, 5, 6, 8],
            ),
            Table(
                "journey_uplift",
                _("Journeys: conversion vs holdout and between split arms (95% confidence interval)"),
                [
                    Column(_("Journey"), "text"),
                    Column(_("Comparison"), "text"),
                    Column(_("Goal"), "text"),
                    Column(_("Group")),
                    Column(_("Group converted")),
                    Column(_("Group rate"), "share"),
                    Column(_("Baseline")),
                    Column(_("Baseline converted")),
                    Column(_("Baseline rate"), "share"),
                    Column(_("Uplift"), "share"),
                    Column(_("CI low"), "share"),
                    Column(_("CI high"), "share"),
                    Column(_("Result"), "text"),
                ],  # fmt: skip
                _journey_uplift(start=start, end=end),
            ),
        ],
    )


def _verdict(interval: Interval | None, *, missing: Any) -> str:
    if interval is None:
        return str(missing)
    return str(_("significant")) if interval.significant else str(_("not significant"))


def _comparison(label: str, name: str, goal: str, group: Arm, base: Arm, missing: Any) -> tuple[Any, ...]:
    interval = group.interval
    return (
        label,
        name,
        goal,
        group.enrolled,
        group.converted,
        group.rate,
        base.enrolled,
        base.converted,
        base.rate,
        interval.difference if interval else None,
        interval.low if interval else None,
        interval.high if interval else None,
        _verdict(interval, missing=missing),
    )


def _journey_uplift(*, start: datetime, end: datetime) -> list[tuple[Any, ...]]:
    """Per journey (all versions, then each version when it has several in the period): treated
    vs holdout, and each split step's arms against its first arm, from journey_results."""
    versions = journey_versions_entered(entered_from=start, entered_to=end)
    by_journey: dict[int, list[Any]] = {}
    for version in versions:
        by_journey.setdefault(version.journey_id, []).append(version)
    rows: list[tuple[Any, ...]] = []
    for journey_versions in by_journey.values():
        journey = journey_versions[0].journey
        scopes: list[tuple[str, Any]] = [(journey.name, None)]
        if len(journey_versions) > 1:
            scopes += [(f"{journey.name} (v{v.number})", v) for v in journey_versions]
        for label, version in scopes:
            results = journey_results(journey=journey, version=version, entered_from=start, entered_to=end)
            rows.append(
                _comparison(
                    label,
                    str(_("treated vs holdout")),
                    journey.goal_event,
                    results.treated,
                    results.holdout,
                    _("no holdout"),
                )
            )
            for step, arms in sorted(results.splits.items()):
                for arm in arms[1:]:
                    name = _("%(step)s: %(arm)s vs %(first)s") % {
                        "step": step,
                        "arm": arm.name,
                        "first": arms[0].name,
                    }
                    rows.append(
                        _comparison(label, str(name), journey.goal_event, arm, arms[0], _("empty arm"))
                    )
    return rows
