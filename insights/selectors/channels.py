"""Channels and campaigns: what each channel did for the broadcasts launched in the period (sent,
delivered, read, clicked) and each campaign's uplift over its holdout, with the 95% confidence
interval of the difference (campaigns' Newcombe interval) and the sample sizes."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign
from campaigns.selectors.campaigns import campaign_results
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
    return Page(
        "channels",
        _("Channels and campaigns"),
        [
            Table(
                "channels",
                _("Messages by channel"),
                [
                    Column(_("Channel"), "text"),
                    Column(_("Messages")),
                    Column(_("Sent")),
                    Column(_("Delivered")),
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
        ],
    )
