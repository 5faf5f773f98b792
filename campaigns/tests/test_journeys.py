"""The journeys' engine: versions mid-journey, goals, re-entry, holdout and split stability, a
batch that fails (nothing half-done), two workers racing for one enrollment, pause, the partner
API and the results."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.utils import timezone
from django_tenants.utils import tenant_context

from campaigns.models import (
    Enrollment,
    EnrollmentStatus,
    Journey,
    JourneyStepLog,
    Message,
    MessageTemplate,
    ReentryRule,
)
from campaigns.selectors.journeys import journey_results, journey_step_counts
from campaigns.services import journeys as engine
from campaigns.services.journeys import (
    bucket,
    bucket_sql,
    enrollment_create_manual,
    journey_pause,
    journey_publish,
    journey_resume,
    journey_save,
    journeys_advance_due,
    split_arm,
)
from campaigns.tests.journey_helpers import happen, messages_to, path_of, published
from crm.tests.factories import AffiliateFactory
from crm.tests.helpers import Api, make_key
from tenants.models import UDN
from tenants.tests.helpers import wait_for

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def reachable(**fields):
    return AffiliateFactory(**({"consent_email": True, "consent_sms": True} | fields))


def send_graph(template: str = "a", *, wait_days: int = 1, trigger: dict | None = None) -> dict:
    return {
        "triggers": [trigger or {"type": "event", "event": "account_opened", "start": "wait"}],
        "steps": [
            {"id": "wait", "type": "wait", "days": wait_days, "next": "send"},
            {
                "id": "send",
                "type": "send",
                "channels": ["email"],
                "templates": {"email": template},
                "next": None,
            },
        ],
    }


@pytest.fixture
def clock(udn_a):
    with tenant_context(udn_a), time_machine.travel(NOW, tick=False) as traveller:
        for slug in ("a", "b"):
            MessageTemplate.objects.create(
                slug=slug, name=slug.upper(), channel="email", subject="Oi", body_text="Oi"
            )
        yield traveller


def tick(clock, **delta) -> None:
    clock.shift(timedelta(**delta))
    journeys_advance_due(now=timezone.now())


def test_a_draft_with_a_broken_graph_is_not_published(clock):
    journey = journey_save(
        name="Quebrada",
        graph={
            "triggers": [{"type": "event", "event": "x", "start": "nowhere"}],
            "steps": [{"id": "s", "type": "send"}],
        },
        by="m",
    )
    with pytest.raises(ValidationError) as caught:
        journey_publish(journey=journey, by="m")
    assert any("nowhere" in message for message in caught.value.messages)
    assert journey.versions.count() == 0


def test_affiliates_inside_finish_on_the_version_they_entered(clock):
    journey = published(send_graph("a"))
    early = reachable()
    happen(early, "account_opened")
    journey_save(journey=journey, name=journey.name, graph=send_graph("b"), by="m")
    journey_publish(journey=journey, by="m")
    late = reachable()
    happen(late, "account_opened")
    tick(clock, days=1, minutes=1)
    assert [m[0] for m in messages_to(early)] == ["a"]
    assert [m[0] for m in messages_to(late)] == ["b"]
    versions = dict(Enrollment.objects.values_list("affiliate_id", "version__number"))
    assert versions == {early.pk: 1, late.pk: 2}


def test_the_goal_ends_the_journey_early_as_a_conversion_but_not_an_earlier_goal_event(clock):
    journey = published(send_graph("a", wait_days=3), goal_event="cash_in")
    converts, before = reachable(), reachable()
    happen(before, "cash_in", amount="10.00")  # before entering: not a conversion
    happen(converts, "account_opened")
    happen(before, "account_opened")
    tick(clock, days=1)
    happen(converts, "cash_in", amount="10.00")
    tick(clock, days=2, minutes=1)
    assert messages_to(converts) == []
    assert [m[0] for m in messages_to(before)] == ["a"]
    converted = Enrollment.objects.get(affiliate=converts)
    assert converted.status == EnrollmentStatus.CONVERTED and converted.due_at is None
    assert path_of(converted)[-1] == ("wait", "goal")
    assert journey_step_counts(journey=journey)["wait"].converted == 1


def test_re_entry_never_and_after_n_days(clock):
    never = published(send_graph("a", wait_days=1), name="Nunca")
    again = published(
        send_graph("b", wait_days=1), name="De novo", reentry=ReentryRule.AFTER_DAYS, reentry_days=10
    )
    person = reachable()
    happen(person, "account_opened")
    happen(person, "account_opened")  # still inside both: no second enrollment
    assert Enrollment.objects.filter(affiliate=person).count() == 2
    tick(clock, days=1, minutes=1)
    happen(person, "account_opened")  # finished a moment ago: too soon for the second journey
    tick(clock, days=10)
    happen(person, "account_opened")
    assert Enrollment.objects.filter(affiliate=person, journey=never).count() == 1
    assert Enrollment.objects.filter(affiliate=person, journey=again).count() == 2


def test_holdout_is_stable_gets_no_message_and_matches_its_sql(clock):
    journey = published(send_graph("a", wait_days=1), holdout_percent=30)
    people = [reachable() for _ in range(60)]
    for person in people:
        happen(person, "account_opened")
    tick(clock, days=1, minutes=1)
    held = {e.affiliate_id for e in Enrollment.objects.filter(journey=journey, holdout=True)}
    assert held == {
        p.pk for p in people if bucket(journey_id=journey.pk, affiliate_id=p.pk, salt="holdout") < 30
    }
    assert 0 < len(held) < 60
    assert not Message.objects.filter(affiliate_id__in=held).exists()
    assert Message.objects.filter(
        affiliate_id__in=[p.pk for p in people if p.pk not in held]
    ).count() == 60 - len(held)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a.id, {bucket_sql(journey_id=journey.pk, salt='holdout', affiliate='a.id')} FROM crm_affiliate a"  # noqa: S608
            " WHERE a.id = ANY(%s)",
            [[p.pk for p in people]],
        )
        for affiliate_id, value in cursor.fetchall():
            assert float(value) == bucket(journey_id=journey.pk, affiliate_id=affiliate_id, salt="holdout")
    results = journey_results(journey=journey)
    assert results.holdout.enrolled == len(held) and results.treated.enrolled == 60 - len(held)


def test_a_split_sends_each_affiliate_to_the_same_arm_every_time(clock):
    graph = {
        "triggers": [{"type": "manual", "start": "split"}],
        "steps": [
            {
                "id": "split",
                "type": "split",
                "arms": [
                    {"name": "A", "percent": 50, "next": "send-a"},
                    {"name": "B", "percent": 50, "next": "send-b"},
                ],
            },
            {
                "id": "send-a",
                "type": "send",
                "channels": ["email"],
                "templates": {"email": "a"},
                "next": None,
            },
            {
                "id": "send-b",
                "type": "send",
                "channels": ["email"],
                "templates": {"email": "b"},
                "next": None,
            },
        ],
    }
    journey = published(graph, reentry=ReentryRule.AFTER_DAYS, reentry_days=0)
    people = [reachable() for _ in range(40)]
    for round_ in range(2):
        for person in people:
            enrollment_create_manual(journey=journey, affiliate=person, key=f"{round_}-{person.pk}")
        journeys_advance_due(now=timezone.now())
        clock.shift(timedelta(minutes=1))
    step = graph["steps"][0]
    for person in people:
        arm = split_arm(journey_id=journey.pk, step=step, affiliate_id=person.pk)["name"]
        assert [m[0] for m in messages_to(person)] == [arm.lower()] * 2  # same arm both times
    arms = {arm.name.split()[0]: arm.enrolled for arm in journey_results(journey=journey).splits["split"]}
    assert sum(arms.values()) == 80 and arms["A"] > 5 and arms["B"] > 5


def test_a_failing_batch_leaves_nothing_half_done_and_backs_off(clock, monkeypatch):
    published(send_graph("a", wait_days=1))
    person = reachable()
    happen(person, "account_opened")
    real = engine._logs_write

    def broken(out):
        raise RuntimeError("disk full")

    monkeypatch.setattr(engine, "_logs_write", broken)
    tick(clock, days=1, minutes=1)
    assert messages_to(person) == []  # the outbox row was rolled back with the rest
    enrollment = Enrollment.objects.get(affiliate=person)
    assert enrollment.step == "wait" and enrollment.attempts == 1 and enrollment.due_at > timezone.now()
    monkeypatch.setattr(engine, "_logs_write", real)
    tick(clock, minutes=2)
    assert [m[0] for m in messages_to(person)] == ["a"]
    assert Enrollment.objects.get(affiliate=person).status == EnrollmentStatus.COMPLETED


def test_a_paused_journey_holds_its_enrollments_until_resumed(clock):
    journey = published(send_graph("a", wait_days=1))
    person = reachable()
    happen(person, "account_opened")
    journey_pause(journey=journey)
    tick(clock, days=2)
    assert messages_to(person) == []
    journey_resume(journey=Journey.objects.get(pk=journey.pk))
    tick(clock, minutes=1)
    assert [m[0] for m in messages_to(person)] == ["a"]


def test_wait_until_a_time_of_day_in_the_affiliates_zone(clock):
    graph = {
        "triggers": [{"type": "manual", "start": "morning"}],
        "steps": [
            {"id": "morning", "type": "wait", "until": "09:00", "next": "send"},
            {"id": "send", "type": "send", "channels": ["email"], "templates": {"email": "a"}, "next": None},
        ],
    }
    journey = published(graph)
    manaus = reachable(time_zone="America/Manaus")  # UTC-4: 12:00 UTC is 08:00 there
    enrollment, _created = enrollment_create_manual(journey=journey, affiliate=manaus, key="k")
    journeys_advance_due(now=timezone.now())
    enrollment.refresh_from_db()
    assert enrollment.due_at == datetime(2026, 3, 10, 13, 0, tzinfo=UTC)


def test_two_sessions_racing_for_one_enrollment_advance_it_once(committed):
    udn_a = UDN.objects.get(slug="alpha")
    committed.append(lambda: _clean(udn_a))
    with tenant_context(udn_a):
        MessageTemplate.objects.create(slug="a", name="A", channel="email", subject="Oi", body_text="Oi")
        journey = published(send_graph("a", wait_days=1, trigger={"type": "manual", "start": "wait"}))
        person = reachable(external_id="J1-race")
        enrollment_create_manual(journey=journey, affiliate=person, key="race")
        later = timezone.now() + timedelta(days=2)
        journeys_advance_due(now=later)  # the entry step: now waiting a day
    barrier = threading.Barrier(2)
    taken: list[int] = []

    def worker() -> None:
        with tenant_context(udn_a):
            barrier.wait()
            taken.append(journeys_advance_due(now=later + timedelta(days=2)))
        connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with tenant_context(udn_a):
        assert sorted(taken) == [0, 1]
        assert Message.objects.filter(affiliate=person).count() == 1
        assert JourneyStepLog.objects.filter(enrollment__affiliate=person, step="send").count() == 1


@pytest.mark.worker
def test_real_workers_racing_for_one_enrollment_send_once(celery_workers, committed):
    """The default queue's worker (prefork, two processes) gets the advance task six times at
    once for one due enrollment: one message, one log row."""
    from crm.celery import app

    alpha = UDN.objects.get(slug="alpha")
    committed.append(lambda: _clean(alpha))
    with tenant_context(alpha):
        MessageTemplate.objects.create(slug="a", name="A", channel="email", subject="Oi", body_text="Oi")
        graph = {
            "triggers": [{"type": "manual", "start": "send"}],
            "steps": [
                {
                    "id": "send",
                    "type": "send",
                    "channels": ["email"],
                    "templates": {"email": "a"},
                    "next": None,
                }
            ],
        }
        journey = published(graph)
        person = reachable(external_id="J1-workers")
        # Made due without a kick: the tasks below are the only ones that take it.
        engine.enrollments_create(
            journey=journey,
            version=journey.versions.get(),
            start="send",
            entries=[engine.Entry(affiliate_id=person.pk, key="w")],
            now=timezone.now(),
        )
        for _ in range(6):
            app.send_task(engine.ADVANCE_TASK)
        assert wait_for(
            lambda: Enrollment.objects.get(affiliate=person).status == EnrollmentStatus.COMPLETED, 60
        )
        assert Message.objects.filter(affiliate=person).count() == 1
        assert JourneyStepLog.objects.filter(enrollment__affiliate=person, outcome="sent").count() == 1


def _clean(udn: UDN) -> None:
    with tenant_context(udn):
        JourneyStepLog.objects.all().delete()
        Message.objects.all().delete()
        Enrollment.objects.all().delete()
        Journey.objects.all().delete()
        MessageTemplate.objects.all().delete()
        from crm.models import Affiliate

        Affiliate.objects.filter(external_id__startswith="J1-").delete()


def test_entering_a_segment_enrols_into_the_journeys_it_triggers(clock):
    from crm.hooks import SegmentMembershipChanged

    journey = published(
        send_graph("a", wait_days=1, trigger={"type": "segment", "segment": 7, "start": "wait"})
    )
    joins, leaves = reachable(), reachable()
    engine.journeys_on_segment_changes(
        changes=[
            SegmentMembershipChanged(segment_id=7, affiliate_id=joins.pk, entered=True, at=timezone.now()),
            SegmentMembershipChanged(segment_id=7, affiliate_id=leaves.pk, entered=False, at=timezone.now()),
            SegmentMembershipChanged(segment_id=8, affiliate_id=leaves.pk, entered=True, at=timezone.now()),
        ]
    )
    assert list(Enrollment.objects.filter(journey=journey).values_list("affiliate_id", flat=True)) == [
        joins.pk
    ]


# --- the partner API ------------------------------------------------------------------------------------


def test_api_enrols_idempotently_and_shows_the_position_and_history(clock, udn_a):
    graph = send_graph("a", wait_days=1, trigger={"type": "manual", "start": "wait"})
    journey = published(graph)
    person = reachable(external_id="API-1")
    api = Api(udn_a, make_key(udn_a, scopes=["journeys:write", "journeys:read"]))
    url = f"/api/v1/journeys/{journey.pk}/enrollments/"
    first = api.post(url, {"affiliate": {"external_id": "API-1"}}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201, first.content
    again = api.post(url, {"affiliate": {"external_id": "API-1"}}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.json()["id"] == first.json()["id"]
    plain = api.post(url, {"affiliate": {"external_id": "API-1"}})
    assert plain.status_code == 200 and plain.json()["id"] == first.json()["id"]
    assert Enrollment.objects.filter(affiliate=person).count() == 1
    tick(clock, minutes=1)
    tick(clock, days=1, minutes=1)
    shown = api.get(f"{url}{first.json()['id']}/").json()
    assert shown["status"] == "completed" and shown["version"] == 1
    assert [(h["step"], h["outcome"]) for h in shown["history"]] == [
        ("wait", "entered"),
        ("wait", "waited"),
        ("send", "sent"),
    ]
    missing = api.post(url, {"affiliate": {"external_id": "nobody"}})
    assert missing.status_code == 422
