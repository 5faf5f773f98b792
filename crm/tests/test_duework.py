"""Due work (crm.services.duework) on the webhook deliveries table: concurrent claims over real
connections never share a row, a lapsed lease is claimable again, failures follow the backoff
schedule and die after the last attempt, outcomes are one statement for a batch."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django_tenants.utils import tenant_context

from crm.models import WebhookDelivery, WebhookDeliveryStatus, WebhookSubscription
from crm.services.duework import due_claim, due_failed, due_succeeded
from crm.services.webhooks import BACKOFF, CLAIM_LEASE, DELIVERIES, MAX_ATTEMPTS, SEND_BATCH
from tenants.models import UDN

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def make_deliveries(count: int, *, due: datetime = T0, **fields) -> list[int]:
    """`count` pending deliveries due at `due`, for one subscription nobody sends to."""
    subscription = WebhookSubscription.objects.create(
        url="https://hooks.partner.test/udn",
        events=["affiliate.stage_changed"],
        secret="whsec_test",
        created_by="marina@alpha.test",
    )
    rows = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            subscription=subscription,
            event="affiliate.stage_changed",
            payload={"n": n},
            next_attempt_at=due,
            **fields,
        )
        for n in range(count)
    )
    return [row.pk for row in rows]


def states(ids: list[int]) -> list[tuple[str, int, datetime | None]]:
    rows = WebhookDelivery.objects.filter(pk__in=ids).order_by("id")
    return list(rows.values_list("status", "attempts", "next_attempt_at"))


def test_the_webhook_spec_is_the_senders_schedule():
    assert DELIVERIES.max_attempts == MAX_ATTEMPTS == 6
    assert DELIVERIES.backoff == BACKOFF
    assert [wait.total_seconds() for wait in BACKOFF] == [60, 300, 1800, 7200, 43200]
    assert (DELIVERIES.batch, DELIVERIES.lease) == (SEND_BATCH, CLAIM_LEASE)


# --- claiming ------------------------------------------------------------------------------------


def test_a_claim_takes_due_pending_rows_oldest_first_and_counts_the_attempt(udn_a):
    with tenant_context(udn_a):
        (later,) = make_deliveries(1)
        (older,) = make_deliveries(1, due=T0 - timedelta(hours=1))
        (not_yet,) = make_deliveries(1, due=T0 + timedelta(seconds=1))
        (done,) = make_deliveries(1, due=T0 - timedelta(days=1), status=WebhookDeliveryStatus.DELIVERED)

        assert due_claim(spec=DELIVERIES, now=T0, limit=1) == [older]
        assert due_claim(spec=DELIVERIES, now=T0) == [later]
        assert due_claim(spec=DELIVERIES, now=T0) == []

        assert states([older, later]) == [("pending", 1, T0 + CLAIM_LEASE)] * 2
        assert states([not_yet, done]) == [
            ("pending", 0, T0 + timedelta(seconds=1)),
            ("delivered", 0, T0 - timedelta(days=1)),
        ]


def test_a_claim_takes_at_most_the_batch_by_default(udn_a):
    with tenant_context(udn_a):
        ids = make_deliveries(SEND_BATCH + 2)

        assert due_claim(spec=DELIVERIES, now=T0) == ids[:SEND_BATCH]
        assert due_claim(spec=DELIVERIES, now=T0) == ids[SEND_BATCH:]


def test_a_lapsed_lease_is_claimable_again(udn_a):
    """A sender that died keeps its rows only for the lease: then whoever claims next gets them."""
    with tenant_context(udn_a):
        (row,) = make_deliveries(1)
        assert due_claim(spec=DELIVERIES, now=T0) == [row]

        assert due_claim(spec=DELIVERIES, now=T0 + CLAIM_LEASE - timedelta(seconds=1)) == []
        assert due_claim(spec=DELIVERIES, now=T0 + CLAIM_LEASE) == [row]
        assert states([row]) == [("pending", 2, T0 + 2 * CLAIM_LEASE)]


# --- concurrent claims: committed rows, one connection per thread ---------------------------------


@pytest.fixture
def alpha_committed(django_db_setup, committed) -> UDN:
    alpha = UDN.objects.get(slug="alpha")

    def cleanup() -> None:
        with tenant_context(alpha):
            WebhookSubscription.objects.all().delete()  # the deliveries go with them

    committed.append(cleanup)
    return alpha


def test_rows_another_connection_holds_are_skipped_not_waited_for(alpha_committed):
    """While one worker's claim is still uncommitted (its rows locked, still due as far as others
    can see), a second worker takes the other rows at once instead of waiting or taking them too."""
    with tenant_context(alpha_committed):
        ids = make_deliveries(4)

    claimed, release = threading.Event(), threading.Event()
    first: list[int] = []
    errors: list[BaseException] = []

    def first_worker() -> None:
        try:
            with tenant_context(alpha_committed), transaction.atomic():
                first.extend(due_claim(spec=DELIVERIES, now=T0, limit=2))
                claimed.set()
                release.wait(timeout=30)
        except BaseException as exc:  # re-raised below
            errors.append(exc)
        finally:
            claimed.set()
            connection.close()

    thread = threading.Thread(target=first_worker)
    thread.start()
    try:
        assert claimed.wait(timeout=30)
        with tenant_context(alpha_committed), transaction.atomic():
            with connection.cursor() as cursor:
                # Waiting for the first worker's locks would fail this claim instead of hanging.
                cursor.execute("SET LOCAL lock_timeout = '5s'")
            second = due_claim(spec=DELIVERIES, now=T0, limit=4)
    finally:
        release.set()
        thread.join()

    assert errors == []
    assert first == ids[:2]
    assert second == ids[2:]
    with tenant_context(alpha_committed):
        assert due_claim(spec=DELIVERIES, now=T0) == []
        assert {attempts for _status, attempts, _due in states(ids)} == {1}


def test_two_workers_claiming_at_once_never_get_the_same_row(alpha_committed):
    with tenant_context(alpha_committed):
        ids = make_deliveries(40)

    together = threading.Barrier(2)
    claims: list[list[int]] = [[], []]
    errors: list[BaseException] = []

    def worker(mine: list[int]) -> None:
        try:
            with tenant_context(alpha_committed):
                together.wait(timeout=30)
                while batch := due_claim(spec=DELIVERIES, now=T0, limit=3):
                    mine.extend(batch)
        except BaseException as exc:  # re-raised below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(claims[n],)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert set(claims[0]).isdisjoint(claims[1])
    assert sorted(claims[0] + claims[1]) == ids  # every row once
    with tenant_context(alpha_committed):
        assert {attempts for _status, attempts, _due in states(ids)} == {1}


# --- outcomes ------------------------------------------------------------------------------------


def test_failures_follow_the_backoff_schedule_in_one_statement_per_batch(udn_a, django_assert_num_queries):
    with tenant_context(udn_a):
        ids = make_deliveries(3)
        now = T0
        for attempt, wait in enumerate(BACKOFF, start=1):
            assert due_claim(spec=DELIVERIES, now=now) == ids
            with django_assert_num_queries(1):
                dead = due_failed(spec=DELIVERIES, ids=ids, now=now, values={"last_error": f"HTTP {attempt}"})
            assert dead == []
            assert states(ids) == [("pending", attempt, now + wait)] * 3
            assert due_claim(spec=DELIVERIES, now=now + wait - timedelta(seconds=1)) == []
            now += wait
        assert set(WebhookDelivery.objects.values_list("last_error", flat=True)) == {f"HTTP {len(BACKOFF)}"}


def test_a_row_is_dead_after_the_last_attempt_and_never_claimed_again(udn_a):
    """One statement for a batch whose rows are at different attempts: each is judged by its own."""
    with tenant_context(udn_a):
        (last,) = make_deliveries(1, attempts=MAX_ATTEMPTS - 1)
        (early,) = make_deliveries(1, attempts=0)
        assert due_claim(spec=DELIVERIES, now=T0) == [last, early]

        assert due_failed(spec=DELIVERIES, ids=[last, early], now=T0) == [last]

        assert states([last, early]) == [("failed", MAX_ATTEMPTS, None), ("pending", 1, T0 + BACKOFF[0])]
        assert due_claim(spec=DELIVERIES, now=T0 + timedelta(days=30)) == [early]


def test_success_ends_the_rows_with_their_values_in_one_statement(udn_a, django_assert_num_queries):
    with tenant_context(udn_a):
        ids = make_deliveries(3)
        assert due_claim(spec=DELIVERIES, now=T0) == ids
        WebhookDelivery.objects.filter(pk=ids[2]).delete()  # gone meanwhile: not an error

        with django_assert_num_queries(1):
            done = due_succeeded(
                spec=DELIVERIES,
                ids=ids,
                values={"delivered_at": T0, "last_status_code": 204, "last_error": ""},
            )

        assert done == 2
        rows = WebhookDelivery.objects.filter(pk__in=ids).order_by("id")
        assert (
            list(rows.values_list("status", "next_attempt_at", "delivered_at", "last_status_code"))
            == [("delivered", None, T0, 204)] * 2
        )
        assert due_claim(spec=DELIVERIES, now=T0 + timedelta(days=30)) == []


def test_success_with_again_at_keeps_the_row_pending_then_with_attempts_starting_over(udn_a):
    """The journeys' case: a step done, the next one due later, with a whole retry schedule."""
    with tenant_context(udn_a):
        (row,) = make_deliveries(1, attempts=3)
        assert due_claim(spec=DELIVERIES, now=T0) == [row]

        assert due_succeeded(spec=DELIVERIES, ids=[row], again_at=T0 + timedelta(days=2)) == 1

        assert states([row]) == [("pending", 0, T0 + timedelta(days=2))]
        assert due_claim(spec=DELIVERIES, now=T0 + timedelta(days=1)) == []
        assert due_claim(spec=DELIVERIES, now=T0 + timedelta(days=2)) == [row]
