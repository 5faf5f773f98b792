"""The journey steps that reach beyond the journey: a branch's condition (a segment definition,
compiled by crm.segmentation for the batch's affiliates), an update (tags and attributes through
the CRM core's change record: history, audit entry, affiliate_changed hook) and a webhook (due
work sent outside the batch's transaction, retried with backoff)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django_tenants.utils import tenant_context

from campaigns.models import (
    Enrollment,
    EnrollmentStatus,
    JourneyStepLog,
    JourneyWebhookCall,
    JourneyWebhookCallStatus,
)
from campaigns.services.journeys import (
    WEBHOOK_CALLS,
    enrollment_create_manual,
    journey_publish,
    journey_save,
    journey_webhooks_send_due,
    journeys_advance_due,
)
from campaigns.tests.journey_helpers import happen, path_of, published
from crm import hooks
from crm.models import AffiliateChange, AuditEntry
from crm.tests.factories import AffiliateFactory
from crm.tests.test_webhooks import receiver, signature_ok  # noqa: F401 - the real HTTP receiver fixture

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock(udn_a):
    with tenant_context(udn_a), time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def manual(steps: list[dict], start: str) -> dict:
    return {"triggers": [{"type": "manual", "start": start}], "steps": steps}


def enrol(journey, affiliate) -> Enrollment:
    enrollment, _created = enrollment_create_manual(
        journey=journey, affiliate=affiliate, key=f"test-{affiliate.pk}", now=timezone.now()
    )
    return enrollment


def definition(*conditions: dict, op: str = "and") -> dict:
    return {"version": 1, "root": {"kind": "group", "op": op, "conditions": list(conditions)}}


def branch(condition: dict, *, label: str = "") -> dict:
    return manual(
        [
            {"id": "decide", "type": "branch", "condition": condition, "label": label, "yes": "y", "no": "n"},
            {"id": "y", "type": "exit"},
            {"id": "n", "type": "exit"},
        ],
        "decide",
    )


def took(enrollment: Enrollment) -> str:
    return JourneyStepLog.objects.exclude(outcome="entered").get(enrollment=enrollment, step="decide").outcome


# --- branch ---------------------------------------------------------------------------------------


def test_a_branch_is_a_segment_definition_with_time_windows_and_sequences(clock):
    """Conditions the old evaluator did not have (an event sequence, tags "all") and a window that
    moves with the test clock, compiled for the batch's affiliates in one query."""
    condition = definition(
        {
            "kind": "event",
            "type": "cash_in",
            "measure": "count",
            "operator": "gte",
            "value": 2,
            "within_days": 30,
        },
        {
            "kind": "sequence",
            "type": "app_downloaded",
            "then": "app_activated",
            "within_hours": 24,
            "followed": True,
        },
        {"kind": "tags", "operator": "all", "value": ["vip", "sp"]},
    )
    journey = published(branch(condition))
    keen, stale, untagged, slow = (AffiliateFactory(tags=["vip", "sp"]) for _ in range(4))
    untagged.tags = ["vip"]
    untagged.save()
    for person in (keen, stale, untagged, slow):
        happen(person, "app_downloaded", at=NOW - timedelta(days=50))
        late = timedelta(hours=30) if person is slow else timedelta(hours=2)
        happen(person, "app_activated", at=NOW - timedelta(days=50) + late)
        happen(person, "cash_in", at=NOW - timedelta(days=5), amount="50.00")
        happen(person, "cash_in", at=NOW - timedelta(days=40 if person is stale else 3), amount="50.00")
    enrollments = {person.pk: enrol(journey, person) for person in (keen, stale, untagged, slow)}
    journeys_advance_due(now=timezone.now())

    assert {pk: took(e) for pk, e in enrollments.items()} == {
        keen.pk: "yes",
        stale.pk: "no",  # its second cash in is outside the 30 days
        untagged.pk: "no",
        slow.pk: "no",  # activated 30 h after the download, not within 24 h
    }
    # Why: the condition read back through crm.segmentation.describe, in Portuguese.
    with translation.override("pt-br"):
        journey2 = published(branch(condition, label="fiel"), name="Outra")
        again = enrol(journey2, keen)
        journeys_advance_due(now=timezone.now())
    reason = JourneyStepLog.objects.get(enrollment=again, step="decide", outcome="yes").reason
    assert reason.startswith("fiel: (evento cash_in ≥ 2 em 30 d e evento app_downloaded")
    assert "tem todas as tags vip, sp" in reason  # "all" said, not just the tags listed


def test_a_batch_at_a_branch_is_decided_in_a_few_queries(clock, django_assert_max_num_queries):
    """Set-based: a batch of many affiliates at a branch costs the same few queries as one."""
    condition = definition(
        {"kind": "event", "type": "cash_in", "measure": "count", "operator": "gte", "value": 2}
    )
    journey = published(branch(condition))
    people = [AffiliateFactory() for _ in range(30)]
    for n, person in enumerate(people):
        for _ in range(n % 3):
            happen(person, "cash_in", amount="10.00")
    enrollments = [enrol(journey, person) for person in people]
    with django_assert_max_num_queries(20):
        journeys_advance_due(now=timezone.now())
    assert [took(e) for e in enrollments] == ["yes" if n % 3 == 2 else "no" for n in range(30)]


def test_a_faulty_branch_condition_is_refused_with_the_segment_errors_in_portuguese(clock):
    condition = definition({"kind": "event", "type": "no_such_event", "operator": "gte", "value": 1})
    journey = journey_save(name="Quebrada", graph=branch(condition), by="m")
    with translation.override("pt-br"), pytest.raises(ValidationError) as caught:
        journey_publish(journey=journey, by="m")
    assert caught.value.messages == [
        "A condição de “decide”: Condição 1 (evento no_such_event): tipo de evento desconhecido."
    ]


def test_an_old_format_condition_is_converted_when_read(clock):
    """Graphs saved with the old evaluator's tree still publish and branch the same way."""
    old = {
        "all": [
            {"event": "cashout", "op": "=", "value": 0},
            {"tag": "vip"},
            {"field": "stage", "op": "ne", "value": "cashout"},
        ]
    }
    journey = published(branch(old))
    never, did, plain = AffiliateFactory(tags=["vip"]), AffiliateFactory(tags=["vip"]), AffiliateFactory()
    happen(did, "cashout", amount="10.00")
    enrollments = [enrol(journey, person) for person in (never, did, plain)]
    journeys_advance_due(now=timezone.now())
    assert [took(e) for e in enrollments] == ["yes", "no", "no"]


def test_a_branch_naming_a_deleted_segment_stops_those_enrollments_not_the_batch(clock):
    from crm.models import Segment

    segment = Segment.objects.create(
        name="VIP", definition=definition({"kind": "tags", "operator": "any", "value": ["vip"]})
    )
    broken = published(branch(definition({"kind": "segment", "segment_id": segment.pk})))
    fine = published(branch(definition({"kind": "tags", "operator": "any", "value": ["vip"]})), name="Boa")
    person = AffiliateFactory(tags=["vip"])
    stopped, going = enrol(broken, person), enrol(fine, person)
    segment.delete()
    journeys_advance_due(now=timezone.now())
    stopped.refresh_from_db()
    assert stopped.status == EnrollmentStatus.FAILED
    assert path_of(stopped)[-1] == ("decide", "failed")
    assert took(going) == "yes"


# --- update ---------------------------------------------------------------------------------------


def updating() -> dict:
    return manual(
        [
            {
                "id": "mark",
                "type": "update",
                "add_tags": ["vip"],
                "remove_tags": ["lead-frio"],
                "attributes": {"plano_tipo": "anual"},
                "next": None,
            }
        ],
        "mark",
    )


def test_an_update_is_recorded_as_the_core_records_changes(clock, django_capture_on_commit_callbacks):
    """History on each changed affiliate, one audit entry by the journey (a system actor), the
    affiliate_changed hook after the commit; an affiliate already so is left alone."""
    journey = published(updating(), name="Marcar VIP")
    cold = AffiliateFactory(tags=["lead-frio", "sp"], attributes={"curso": "Investimentos"})
    plain = AffiliateFactory(tags=[], attributes={})
    done = AffiliateFactory(tags=["vip"], attributes={"plano_tipo": "anual"})
    heard: list[hooks.AffiliateChanged] = []
    hooks.affiliate_changed.subscribe(heard.extend)
    try:
        enrollments = [enrol(journey, person) for person in (cold, plain, done)]
        with translation.override("pt-br"), django_capture_on_commit_callbacks(execute=True):
            journeys_advance_due(now=timezone.now())
    finally:
        hooks.affiliate_changed.unsubscribe(heard.extend)

    cold.refresh_from_db()
    assert cold.tags == ["sp", "vip"]
    assert cold.attributes == {"curso": "Investimentos", "plano_tipo": "anual"}
    source = f"journey:{journey.pk}"
    history = AffiliateChange.objects.get(affiliate=cold)
    assert history.source == source
    assert history.changes == {
        "tags": [["lead-frio", "sp"], ["sp", "vip"]],
        "attributes": [{"curso": "Investimentos"}, {"curso": "Investimentos", "plano_tipo": "anual"}],
    }
    assert AffiliateChange.objects.filter(affiliate=done).count() == 0
    (entry,) = AuditEntry.objects.filter(action="affiliates.updated")
    assert (entry.actor_kind, entry.actor_id, entry.actor_label) == (
        "system",
        f"journey:{journey.pk}",
        "Jornada “Marcar VIP”",
    )
    assert entry.changes["affiliates"] == 2
    assert sorted((c.affiliate_id, c.fields, c.source) for c in heard) == sorted(
        [(cold.pk, ("tags", "attributes"), source), (plain.pk, ("tags", "attributes"), source)]
    )
    assert [path_of(e)[-1] for e in enrollments] == [
        ("mark", "updated"),
        ("mark", "updated"),
        ("mark", "unchanged"),
    ]


def test_an_update_of_many_affiliates_is_a_few_statements(clock, django_assert_max_num_queries):
    journey = published(updating())
    people = [AffiliateFactory(tags=["lead-frio"]) for _ in range(40)]
    for person in people:
        enrol(journey, person)
    with django_assert_max_num_queries(16):
        journeys_advance_due(now=timezone.now())
    assert AffiliateChange.objects.filter(source=f"journey:{journey.pk}").count() == 40
    assert AuditEntry.objects.filter(action="affiliates.updated").count() == 1


# --- webhook --------------------------------------------------------------------------------------


def calling(url: str) -> dict:
    return manual(
        [
            {"id": "hook", "type": "webhook", "url": url, "next": "done"},
            {"id": "done", "type": "wait", "days": 1, "next": None},
        ],
        "hook",
    )


def test_a_webhook_is_called_after_the_batch_and_retried_until_it_answers(clock, receiver):  # noqa: F811
    receiver.statuses = [500, 200]
    journey = published(calling(receiver.url))
    person = AffiliateFactory()
    enrollment = enrol(journey, person)
    journeys_advance_due(now=timezone.now())

    # The batch records the call and moves on: nothing was sent inside its transaction.
    assert receiver.requests == []
    enrollment.refresh_from_db()
    assert enrollment.step == "done"
    assert path_of(enrollment)[-1] == ("hook", "webhook_queued")
    call = JourneyWebhookCall.objects.get(enrollment=enrollment)
    assert call.status == JourneyWebhookCallStatus.PENDING

    assert journey_webhooks_send_due() == 0  # 500: due again after the first backoff
    call.refresh_from_db()
    assert (call.status, call.attempts, call.last_status_code) == ("pending", 1, 500)
    assert call.due_at == timezone.now() + WEBHOOK_CALLS.backoff[0]
    assert journey_webhooks_send_due() == 0 and len(receiver.requests) == 1  # not due yet

    clock.shift(WEBHOOK_CALLS.backoff[0])
    assert journey_webhooks_send_due() == 1
    call.refresh_from_db()
    assert (call.status, call.attempts, call.last_status_code) == ("delivered", 2, 200)
    first, second = receiver.requests
    assert first.body == second.body  # a retry sends the same call
    assert first.headers["X-UDN-Delivery"] == second.headers["X-UDN-Delivery"] == f"journey-call-{call.pk}"
    assert signature_ok(journey.webhook_secret, second)
    assert json.loads(second.body) == {
        "event": "journey.step",
        "journey": journey.pk,
        "version": 1,
        "step": "hook",
        "enrollment": enrollment.pk,
        "affiliate_id": person.pk,
        "at": NOW.isoformat(),
    }
    # The result shows in the enrollment's log (its page's history).
    log = JourneyStepLog.objects.filter(enrollment=enrollment, step="hook").order_by("id")
    assert [(row.outcome, row.reason) for row in log][-1] == ("webhook", "HTTP 200")


def test_a_webhook_that_never_answers_fails_after_the_last_retry_with_its_reason(clock, receiver):  # noqa: F811
    receiver.statuses = [503]
    journey = published(calling(receiver.url))
    enrollment = enrol(journey, AffiliateFactory())
    journeys_advance_due(now=timezone.now())
    journey_webhooks_send_due()
    for wait in WEBHOOK_CALLS.backoff:
        clock.shift(wait)
        assert journey_webhooks_send_due() == 0
    call = JourneyWebhookCall.objects.get(enrollment=enrollment)
    assert (call.status, call.attempts, call.due_at) == ("failed", WEBHOOK_CALLS.max_attempts, None)
    assert len(receiver.requests) == WEBHOOK_CALLS.max_attempts
    clock.shift(timedelta(days=2))
    journey_webhooks_send_due()
    journeys_advance_due(now=timezone.now())
    assert len(receiver.requests) == WEBHOOK_CALLS.max_attempts  # given up: never called again
    last = JourneyStepLog.objects.filter(enrollment=enrollment, step="hook").order_by("id").last()
    assert last is not None and last.outcome == "webhook_failed"
    with translation.override("pt-br"):
        assert last.reason == f"Desistiu após {WEBHOOK_CALLS.max_attempts} tentativas; a última: HTTP 503"
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.COMPLETED  # the journey went on without it


def test_webhook_calls_are_sent_by_a_per_udn_periodic_task_on_the_default_queue():
    """The retries' clock: beat runs the sender in every UDN (a kick after each batch sends the
    first attempt at once)."""
    from crm.queues import LONG_TASKS
    from tenants.services import UDN_PERIODIC_TASKS

    spec = UDN_PERIODIC_TASKS["journey-webhooks"]
    assert spec.task == "campaigns.journey_webhooks_send"
    assert spec.every_seconds is not None and spec.every_seconds <= 60
    assert spec.task not in LONG_TASKS
