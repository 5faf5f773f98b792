"""The weekly e-mail report: each UDN's headline figures of the last full week (Monday to Sunday)
beside the week before, to its marketers, with links to the dashboards; and the same figures of
every UDN side by side to the coordinators. Django's mail (SMTP)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from insights.formatting import cell
from insights.selectors.dashboards import Filters, headline
from insights.selectors.overview import HEADLINE_COLUMNS, udn_headlines
from tenants.models import UDN, Role, User
from tenants.selectors import udn_list


def last_week(*, today: date) -> Filters:
    """Monday to Sunday of the last full week before `today`."""
    monday = today - timedelta(days=today.weekday() + 7)
    return Filters(start=monday, end=monday + timedelta(days=6))


def _base_url(host: str) -> str:
    scheme = "http" if settings.DEBUG or getattr(settings, "TESTING", False) else "https"
    port = f":{settings.DEV_PORT}" if settings.DEBUG else ""
    return f"{scheme}://{host}{port}"


def _lines(values: dict[str, Any]) -> list[tuple[str, str]]:
    return [(str(label), cell(values[key], kind)) for key, label, kind in HEADLINE_COLUMNS]


def _send(*, to: list[str], subject: str, context: dict[str, Any]) -> int:
    recipients = sorted({address for address in to if address})
    if not recipients:
        return 0
    text = render_to_string("insights/email/weekly.txt", context)
    html = render_to_string("insights/email/weekly.html", context)
    with get_connection() as mail:
        sent = 0
        for address in recipients:  # one message each: recipients never see each other
            message = EmailMultiAlternatives(
                subject, text, settings.DEFAULT_FROM_EMAIL, [address], connection=mail
            )
            message.attach_alternative(html, "text/html")
            sent += message.send()
    return sent


def weekly_report_send_udn(*, today: date | None = None) -> int:
    """The current UDN's report to its marketers; returns the e-mails sent."""
    udn: UDN = connection.tenant  # type: ignore[attr-defined]
    today = today or timezone.localtime(timezone.now(), ZoneInfo(udn.time_zone)).date()
    week = last_week(today=today)
    before = Filters(start=week.start - timedelta(days=7), end=week.end - timedelta(days=7))
    now, previous = headline(filters=week), headline(filters=before)
    marketers = User.objects.filter(memberships__udn=udn, memberships__role=Role.MARKETER, is_active=True)
    domain = udn.get_primary_domain()
    base = _base_url(domain.domain if domain is not None else settings.BASE_DOMAIN)
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("Weekly indicators — %(udn)s — %(start)s to %(end)s") % {
            "udn": udn.name,
            "start": week.start.strftime("%d/%m/%Y"),
            "end": week.end.strftime("%d/%m/%Y"),
        }
        rows = [
            (label, value, previous_value)
            for (label, value), (_l, previous_value) in zip(_lines(now), _lines(previous), strict=True)
        ]
        context = {
            "title": subject,
            "udns": [(udn.name, rows)],
            "links": [
                (_("Time metrics"), f"{base}/insights/time/"),
                (_("Volume and funnel"), f"{base}/insights/volume/"),
                (_("Deposits"), f"{base}/insights/deposits/"),
            ],
            "week": week,
        }
        return _send(to=[u.email for u in marketers], subject=subject, context=context)


def weekly_report_send_coordinators(*, today: date | None = None) -> int:
    """Every UDN's figures side by side, to the coordinators; returns the e-mails sent."""
    today = today or timezone.localdate()
    week = last_week(today=today)
    figures = udn_headlines(udns=list(udn_list()), filters=week)
    coordinators = User.objects.filter(is_coordinator=True, is_active=True)
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("Weekly indicators of every UDN — %(start)s to %(end)s") % {
            "start": week.start.strftime("%d/%m/%Y"),
            "end": week.end.strftime("%d/%m/%Y"),
        }
        context = {
            "title": subject,
            "udns": [
                (udn.name, [(label, value, None) for label, value in _lines(values)])
                for udn, values in figures
            ],
            "links": [(_("Indicators by UDN"), f"{_base_url(settings.BASE_DOMAIN)}/insights/")],
            "week": week,
        }
        return _send(to=[u.email for u in coordinators], subject=subject, context=context)
