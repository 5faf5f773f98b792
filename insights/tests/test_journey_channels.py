"""Journeys on the channels page: per journey, version and channel the messages its send steps
wrote and how far they went, the enrollments each channel reached and converted, and the uplift
treated vs holdout and between split arms with the 95% interval (checked against scipy on the
same counts), every figure equal to the same figure counted straight from the enrollments and
messages."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone, translation
from django_tenants.utils import tenant_context

from campaigns.models import (
    Enrollment,
    EnrollmentStatus,
    Message,
    MessageSource,
    MessageStatus,
    MessageTemplate,
)
from campaigns.selectors.campaigns import REACHED
from campaigns.services.journeys import (
    enrollment_create_manual,
    journey_publish,
    journey_save,
    journeys_advance_due,
    split_arm,
)
from campaigns.tests.journey_helpers import happen, published
from crm.tests.factories import AffiliateFactory
from insights.formatting import code_label
from insights.selectors.channels import channels_page
from insights.selectors.dashboards import Filters
from insights.tests.test_channels import newcombe_with_scipy

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
MARCH = Filters(start=date(2026, 3, 1), end=date(2026, 3, 31))

SPLIT = {
    "id": "split",
    "type": "split",
    "arms": [{"name": "A", "percent": 50, "next": "send-a"}, {"name": "B", "percent": 50, "next": "send-b"}],
}
GRAPH = {
    "triggers": [{"type": "manual", "start": "split"}],
    "steps": [
        SPLIT,
        {"id": "send-a", "type": "send", "channels": ["email"], "templates": {"email": "a"}, "next": "wait"},
        {"id": "send-b", "type": "send", "channels": ["sms"], "templates": {"sms": "b"}, "next": "wait"},
        {"id": "wait", "type": "wait", "days": 20, "next": None},
    ],
}
# Statuses given to the journey's messages in turn: every step of the funnel is reached by some.
STATUSES = [
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.READ,
    MessageStatus.CLICKED,
    MessageStatus.FAILED,
    MessageStatus.DELIVERED,
    MessageStatus.QUEUED,
]


@pytest.fixture
def journey(udn_a):
    with tenant_context(udn_a), time_machine.travel(NOW, tick=False) as clock:
        MessageTemplate.objects.create(slug="a", name="A", channel="email", subject="Oi", body_text="Oi")
        MessageTemplate.objects.create(slug="b", name="B", channel="sms", body_text="Oi")
        journey = published(GRAPH, name="Reativação", goal_event="cash_in", holdout_percent=20)
        people = [AffiliateFactory(consent_email=True, consent_sms=True) for _ in range(160)]
        for person in people[:90]:  # on version 1
            enrollment_create_manual(journey=journey, affiliate=person, key=f"k{person.pk}")
        journeys_advance_due(now=timezone.now())
        journey_save(
            journey=journey, name=journey.name, graph=GRAPH, by="m", goal_event="cash_in", holdout_percent=20
        )
        journey_publish(journey=journey, by="m")
        clock.shift(timedelta(hours=1))
        for person in people[90:]:  # on version 2
            enrollment_create_manual(journey=journey, affiliate=person, key=f"k{person.pk}")
        journeys_advance_due(now=timezone.now())
        messages = list(Message.objects.filter(source=MessageSource.JOURNEY).order_by("pk"))
        for i, message in enumerate(messages):
            Message.objects.filter(pk=message.pk).update(status=STATUSES[i % len(STATUSES)])
        clock.shift(timedelta(days=2))
        # Every third affiliate deposits: a conversion (held out or not, either arm).
        for person in people[::3]:
            happen(person, "cash_in", amount="50.00")
        # Outside the period: a journey entered in April is not in March's figures.
        clock.move_to(datetime(2026, 4, 2, 12, 0, tzinfo=UTC))
        late = AffiliateFactory(consent_email=True, consent_sms=True)
        enrollment_create_manual(journey=journey, affiliate=late, key="april")
        journeys_advance_due(now=timezone.now())
        yield journey


def march(qs):
    return qs.filter(
        entered_at__gte=datetime(2026, 3, 1, 3, tzinfo=UTC),
        entered_at__lt=datetime(2026, 4, 1, 3, tzinfo=UTC),
    )


def raw_channels(journey) -> list[tuple]:
    """Per version and channel, from the rows: each enrollment's messages are its affiliate's
    journey messages written when its send step ran."""
    acc: dict[tuple[int, str], dict] = defaultdict(lambda: defaultdict(int) | {"e": set(), "c": set()})
    for enrollment in march(Enrollment.objects.filter(journey=journey)).select_related("version"):
        for message in Message.objects.filter(
            affiliate_id=enrollment.affiliate_id,
            source=MessageSource.JOURNEY,
            created_at__gte=enrollment.entered_at,
        ):
            if enrollment.finished_at and message.created_at > enrollment.finished_at:
                continue
            key = (enrollment.version.number, message.channel)
            figures = acc[key]
            figures["messages"] += 1
            for step in ("sent", "delivered", "read", "clicked"):
                figures[step] += message.status in REACHED[MessageStatus(step)]
            figures["e"].add(enrollment.pk)
            if enrollment.status == EnrollmentStatus.CONVERTED:
                figures["c"].add(enrollment.pk)
    rows = []
    for (number, channel), f in sorted(acc.items()):
        reached, converted = len(f["e"]), len(f["c"])
        rows.append(
            (f"Reativação (v{number})", channel, f["messages"], f["sent"], f["delivered"], f["read"],
             f["clicked"], reached, converted, converted / reached)
        )  # fmt: skip
    return rows


def test_journeys_by_channel_equal_the_messages_counted_one_by_one(journey):
    with translation.override("pt-br"):
        table = channels_page(filters=MARCH).table("journey_channels")
    expected = raw_channels(journey)
    assert {row[1] for row in expected} == {"email", "sms"}
    assert {row[0] for row in expected} == {"Reativação (v1)", "Reativação (v2)"}
    assert all(row[3] and row[4] and row[5] and row[6] and row[8] for row in expected)  # no empty column
    assert table.rows == expected


def test_journey_uplift_vs_holdout_and_between_arms_with_scipys_interval(journey):
    with translation.override("pt-br"):
        rows = channels_page(filters=MARCH).table("journey_uplift").rows
    enrollments = list(march(Enrollment.objects.filter(journey=journey)).select_related("version"))
    assert len(enrollments) == 160

    def check(row, group, base, label, comparison):
        n1, x1 = len(group), sum(e.status == EnrollmentStatus.CONVERTED for e in group)
        n2, x2 = len(base), sum(e.status == EnrollmentStatus.CONVERTED for e in base)
        assert row[:9] == (label, comparison, "cash_in", n1, x1, x1 / n1, n2, x2, x2 / n2)
        low, high = newcombe_with_scipy(x1, n1, x2, n2)
        assert row[9] == pytest.approx(x1 / n1 - x2 / n2)
        assert row[10] == pytest.approx(low, abs=1e-12)
        assert row[11] == pytest.approx(high, abs=1e-12)
        assert row[12] == ("significativo" if low > 0 or high < 0 else "não significativo")

    by_label = defaultdict(list)
    for row in rows:
        by_label[row[0]].append(row)
    assert list(by_label) == ["Reativação", "Reativação (v1)", "Reativação (v2)"]
    for label, scope in (
        ("Reativação", enrollments),
        ("Reativação (v1)", [e for e in enrollments if e.version.number == 1]),
        ("Reativação (v2)", [e for e in enrollments if e.version.number == 2]),
    ):
        treated = [e for e in scope if not e.holdout]
        held = [e for e in scope if e.holdout]
        assert held and treated
        arm = {
            e.pk: split_arm(journey_id=journey.pk, step=SPLIT, affiliate_id=e.affiliate_id)["name"]
            for e in treated
        }
        vs_holdout, a_vs_b = by_label[label]
        check(vs_holdout, treated, held, label, "tratados vs controle")
        check(
            a_vs_b,
            [e for e in treated if arm[e.pk] == "B"],
            [e for e in treated if arm[e.pk] == "A"],
            label,
            "split: B (50%) vs A (50%)",
        )


def test_the_channels_page_shows_and_downloads_the_journeys(journey, udn_a, marketer, client_for):
    client = client_for(udn_a, marketer)
    period = {"start": "2026-03-01", "end": "2026-03-31"}
    with time_machine.travel(NOW, tick=False):
        html = client.get("/insights/channels/", period).content.decode()
        assert "Reativação (v2)" in html and "tratados vs controle" in html
        response = client.get("/insights/channels/", {**period, "csv": "journey_channels"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8").lstrip("\ufeff")), delimiter=";"))
    assert rows[0][:2] == ["Jornada", "Canal"]
    with tenant_context(udn_a):
        expected = raw_channels(journey)
    # The channel by its pt-BR label ("E-mail", not "email"), as the page shows it.
    with translation.override("pt-br"):
        labels = {e[1]: code_label(e[1], "channel") for e in expected}
    assert labels.get("email", "E-mail") == "E-mail"
    assert [(r[0], r[1], int(r[2])) for r in rows[1:]] == [(e[0], labels[e[1]], e[2]) for e in expected]
