"""Each ready-made journey from the seeds, end to end with time travel: copied from its template,
published, the trigger event stored through crm's ingest, the clock moved, the tick run; the
messages written to the outbox and the path each affiliate took are checked."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django_tenants.utils import tenant_context

from campaigns.journey_presets import PRESETS
from campaigns.models import Enrollment, EnrollmentStatus, JourneyStatus, MessageStatus
from campaigns.services.journeys import journey_from_preset, journey_publish, journeys_tick
from campaigns.tests.journey_helpers import happen, messages_to, path_of
from crm.tests.factories import AffiliateFactory

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
QUEUED = MessageStatus.QUEUED


def reachable(**fields):
    values = {
        "consent_email": True,
        "consent_whatsapp": True,
        "consent_sms": True,
        "time_zone": "America/Sao_Paulo",
    }
    return AffiliateFactory(**(values | fields))


@pytest.fixture
def clock(udn_a):
    with tenant_context(udn_a), time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def live(key: str):
    journey = journey_from_preset(key=key, by="marina@alpha.test")
    journey_publish(journey=journey, by="marina@alpha.test")
    journey.refresh_from_db()
    assert journey.status == JourneyStatus.LIVE
    return journey


def later(clock, **delta) -> None:
    clock.shift(timedelta(**delta))
    from django.utils import timezone

    journeys_tick(now=timezone.now())


def test_every_ready_made_journey_copies_into_a_publishable_draft(clock):
    for key in PRESETS:
        journey = journey_from_preset(key=key, by="marina@alpha.test")
        assert journey.status == JourneyStatus.DRAFT and journey.preset == key
        journey_publish(journey=journey, by="marina@alpha.test")  # its graph and templates are valid


def test_welcome_downloaded_within_24_hours_gets_the_cashback_incentive(clock):
    live("welcome-24h")
    quick, slow = reachable(), reachable()
    happen(quick, "account_opened")
    happen(slow, "account_opened")
    # WhatsApp and e-mail at once, to both.
    assert messages_to(quick) == [
        ("jornada-boas-vindas-wa", "whatsapp", QUEUED),
        ("jornada-boas-vindas-email", "email", QUEUED),
    ]
    later(clock, hours=5)
    happen(quick, "app_downloaded")
    assert messages_to(quick)[-1] == ("jornada-cashback-wa", "whatsapp", QUEUED)
    assert len(messages_to(slow)) == 2  # still waiting
    later(clock, hours=19, minutes=1)
    assert messages_to(slow)[-1] == ("jornada-lembrete-app-sms", "sms", QUEUED)
    enrollment = Enrollment.objects.get(affiliate=slow)
    assert enrollment.status == EnrollmentStatus.COMPLETED
    assert path_of(enrollment) == [
        ("welcome", "entered"),
        ("welcome", "sent"),
        ("welcome", "sent"),
        ("wait-app", "no"),
        ("reminder", "sent"),
    ]
    assert ("wait-app", "yes") in path_of(Enrollment.objects.get(affiliate=quick))


def test_registration_chain_falls_back_and_stops_at_account_opened(clock):
    live("registration-chain")
    ignores, opens = reachable(), reachable()
    happen(ignores, "registration_started")
    happen(opens, "registration_started")
    later(clock, days=1, minutes=1)
    assert [m[0] for m in messages_to(ignores)] == ["jornada-curso-video"]
    happen(opens, "account_opened")  # the goal: out of the journey, converted
    later(clock, days=3, minutes=1)
    assert [m[0] for m in messages_to(ignores)] == ["jornada-curso-video", "jornada-webinar"]
    later(clock, days=3, minutes=1)
    assert [m[0] for m in messages_to(ignores)] == [
        "jornada-curso-video",
        "jornada-webinar",
        "jornada-maratona",
    ]
    assert [m[0] for m in messages_to(opens)] == ["jornada-curso-video"]
    assert Enrollment.objects.get(affiliate=opens).status == EnrollmentStatus.CONVERTED
    assert Enrollment.objects.get(affiliate=ignores).status == EnrollmentStatus.COMPLETED


def test_first_cash_in_incentive_only_without_a_cash_in_in_3_days(clock):
    live("first-cash-in")
    depositor, idle = reachable(), reachable()
    happen(depositor, "app_activated")
    happen(idle, "app_activated")
    later(clock, days=1)
    happen(depositor, "cash_in", amount="50.00")
    later(clock, days=2, minutes=1)
    assert messages_to(depositor) == []
    assert messages_to(idle) == [("jornada-cash-in-wa", "whatsapp", QUEUED)]
    assert Enrollment.objects.get(affiliate=depositor).status == EnrollmentStatus.CONVERTED


def test_cashout_awareness_tutorials_stop_at_the_first_cashout(clock):
    live("cashout-awareness")
    learner, veteran = reachable(), reachable()
    happen(veteran, "cashout", amount="10.00")
    happen(learner, "cash_in", amount="100.00")
    happen(veteran, "cash_in", amount="100.00")
    assert [m[0] for m in messages_to(learner)] == ["jornada-tutorial-cashout-1"]
    assert messages_to(veteran) == []  # did cashout before: the branch says no
    assert ("never-cashout", "no") in path_of(Enrollment.objects.get(affiliate=veteran))
    later(clock, days=2, minutes=1)
    assert [m[0] for m in messages_to(learner)][-1] == "jornada-tutorial-cashout-2"
    happen(learner, "cashout", amount="20.00")
    later(clock, days=3)
    assert len(messages_to(learner)) == 2
    assert Enrollment.objects.get(affiliate=learner).status == EnrollmentStatus.CONVERTED


def test_consultation_reminder_names_the_specialty_after_90_days_without_one(clock):
    live("consultation-reminder")
    loyal, lapsed = reachable(), reachable()
    happen(loyal, "consultation_scheduled", specialty="Cardiologia")
    happen(lapsed, "consultation_scheduled", specialty="Dermatologia")
    later(clock, days=60)
    happen(loyal, "consultation_scheduled", specialty="Ortopedia")  # re-enters for the next 90 days
    later(clock, days=30, minutes=1)
    assert messages_to(loyal) == []
    assert messages_to(lapsed) == [("jornada-lembrete-consulta", "email", QUEUED)]
    from campaigns.models import Message

    assert Message.objects.get(affiliate=lapsed).variables["evento"]["specialty"] == "Dermatologia"
    assert Enrollment.objects.filter(affiliate=loyal).count() == 2
    later(clock, days=61)
    assert Message.objects.get(affiliate=loyal).variables["evento"]["specialty"] == "Ortopedia"


def test_subscription_renewal_reminder_dunning_goal_and_win_back(clock):
    live("subscription")
    renewing = reachable(attributes={"renewal_date": (NOW.date() + timedelta(days=7)).isoformat()})
    later_one = reachable(attributes={"renewal_date": date(2026, 5, 1).isoformat()})
    failing, recovered, leaving = reachable(), reachable(), reachable()
    journeys_tick()
    assert messages_to(renewing) == [("jornada-renovacao", "email", QUEUED)]
    journeys_tick()  # the date trigger runs once a day
    assert len(messages_to(renewing)) == 1 and messages_to(later_one) == []

    happen(failing, "payment_failed")
    happen(recovered, "payment_failed")
    assert [m[0] for m in messages_to(failing)] == ["jornada-cobranca-1"]
    later(clock, days=2, minutes=1)
    happen(recovered, "subscription_renewed")
    later(clock, days=3, minutes=1)
    assert [m[:2] for m in messages_to(failing)] == [
        ("jornada-cobranca-1", "email"),
        ("jornada-cobranca-2", "email"),
        ("jornada-cobranca-3", "sms"),
    ]
    assert len(messages_to(recovered)) == 2
    assert Enrollment.objects.get(affiliate=recovered).status == EnrollmentStatus.CONVERTED

    happen(leaving, "subscription_cancelled")
    later(clock, days=29)
    assert messages_to(leaving) == []
    later(clock, days=1, minutes=1)
    assert messages_to(leaving) == [("jornada-reconquista", "email", QUEUED)]
