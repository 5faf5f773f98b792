"""The weekly e-mail report, sent through a real SMTP server: each UDN's marketers get their
UDN's headline figures of last week beside the week before, with links; the coordinators get
every UDN side by side. Analysts and other UDNs' people get nothing."""

from __future__ import annotations

from datetime import date
from email.header import decode_header, make_header

from django_tenants.utils import tenant_context

from insights.services.report import last_week, weekly_report_send_coordinators, weekly_report_send_udn
from insights.services.rollups import rollups_rebuild
from insights.tests.helpers import affiliate, at, event

TODAY = date(2026, 3, 11)  # a Wednesday: last week is 02/03 to 08/03


def _body(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no text part")


def test_last_week_is_monday_to_sunday_before_today():
    week = last_week(today=TODAY)
    assert (week.start, week.end) == (date(2026, 3, 2), date(2026, 3, 8))


def test_marketers_get_their_udns_figures_through_smtp(udn_a, marketer, analyst, outsider, smtp_server):
    with tenant_context(udn_a):
        who = affiliate(name="Ana Secreta")
        event(who, "account_opened", at(3, 3, 9))
        event(who, "app_activated", at(3, 3, 12))
        event(who, "cash_in", at(3, 4, 9), "1234.56")
        rollups_rebuild()
        sent = weekly_report_send_udn(today=TODAY)
    assert sent == 1
    [message] = smtp_server
    assert message["To"] == marketer.email
    subject = str(make_header(decode_header(message["Subject"])))
    assert subject == "Indicadores semanais — UDN Alpha — 02/03/2026 a 08/03/2026"
    body = _body(message)
    assert "Entraram no funil: 1 (semana anterior: 0)" in body
    assert "Cash in: R$\u00a01.234,56" in body
    # 3 h from opening to activation: the bucket [3 h, 4 h), shown by its upper bound.
    assert "Tempo mediano até ativar: até 4 h (semana anterior: —)" in body
    assert "/insights/time/" in body
    assert "Ana Secreta" not in body
    assert message.is_multipart()


def test_coordinators_get_every_udn_side_by_side(udn_a, udn_b, coordinator, marketer, smtp_server):
    with tenant_context(udn_b):
        event(affiliate(), "cash_in", at(3, 5, 9), "10.00")
        rollups_rebuild()
    assert weekly_report_send_coordinators(today=TODAY) == 1
    [message] = smtp_server
    assert message["To"] == coordinator.email
    body = _body(message)
    assert "UDN Alpha" in body and "UDN Beta" in body
    assert "R$\u00a010,00" in body
