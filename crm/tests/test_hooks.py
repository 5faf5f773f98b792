"""The core's hooks: listeners hear what changed, after the commit, and only what stayed."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm import hooks
from crm.models import Affiliate
from crm.services.affiliates import affiliate_create, affiliate_update, affiliates_upsert
from crm.services.consent import ConsentInput, consent_bulk_record, consent_change
from crm.services.events import EventInput, events_ingest

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.get_fixed_timezone(-180))


@pytest.fixture
def heard(udn_a):
    """Every hook's payloads, by hook name, as listeners receive them."""
    received: dict[str, list] = {}
    listeners = []
    for hook in (hooks.events_stored, hooks.stage_changed, hooks.consent_changed, hooks.affiliate_changed):
        listener = received.setdefault(hook.name, []).extend
        hook.subscribe(listener)
        listeners.append((hook, listener))
    with tenant_context(udn_a):
        yield received
    for hook, listener in listeners:
        hook.unsubscribe(listener)


def test_events_and_stage_changes_are_heard_after_commit_only(heard, django_capture_on_commit_callbacks):
    joana = Affiliate.objects.create(external_id="H-1", name="Joana Hook")
    with django_capture_on_commit_callbacks(execute=True):
        events_ingest(
            items=[EventInput(event_id="h-1", type="account_opened", occurred_at=T0, affiliate_id=joana.pk)],
            source="api",
        )
        assert heard["events_stored"] == []

    assert [(e.event_id, e.affiliate_id) for e in heard["events_stored"]] == [("h-1", joana.pk)]
    assert [(c.affiliate_id, c.new_stage) for c in heard["stage_changed"]] == [(joana.pk, "registered")]


def test_a_rolled_back_change_is_never_heard(heard, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                affiliate_create(record={"external_id": "H-2", "name": "Rui Desfeito"})
                raise RuntimeError("the caller fails after the write")
        except RuntimeError:
            pass

    assert heard["affiliate_changed"] == []


def test_consent_changes_are_heard_unless_a_newer_one_stands(heard, django_capture_on_commit_callbacks):
    joana = Affiliate.objects.create(external_id="H-3", name="Joana Consent")
    with django_capture_on_commit_callbacks(execute=True):
        consent_change(affiliate=joana, channel="email", granted=True, source="form", occurred_at=T0)
        consent_change(
            affiliate=joana, channel="email", granted=False, source="old", occurred_at=T0 - timedelta(days=1)
        )
        consent_bulk_record(
            entries=[
                ConsentInput(
                    affiliate_id=joana.pk, channel="whatsapp", granted=True, occurred_at=T0, source="lote"
                ),
                ConsentInput(
                    affiliate_id=joana.pk,
                    channel="email",
                    granted=False,
                    occurred_at=T0 - timedelta(days=2),
                    source="lote",
                ),
            ]
        )

    assert [(c.channel, c.granted, c.source) for c in heard["consent_changed"]] == [
        ("email", True, "form"),
        ("whatsapp", True, "lote"),
    ]


def test_affiliate_writes_are_heard_with_what_changed(heard, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        created = affiliate_create(record={"external_id": "H-4", "name": "Célia Nova"}, source="ui")
        affiliate_update(affiliate=created, changes={"city": "Recife"}, source="ui")
        affiliates_upsert(
            records=[
                ({"external_id": "H-4", "name": "Célia Nova"}, None),
                ({"external_id": "H-5", "name": "Davi"}, None),
            ]
        )

    changed = [(c.affiliate_id, c.created, c.fields) for c in heard["affiliate_changed"]]
    h5 = Affiliate.objects.get(external_id="H-5").pk
    assert changed[:2] == [(created.pk, True, changed[0][2]), (created.pk, False, ("city",))]
    assert "name" in changed[0][2]
    # The bulk upsert left H-4 as it was (not heard) and created H-5 with the fields it was given.
    assert changed[2:] == [(h5, True, ("external_id", "name"))]


def test_a_bulk_upsert_is_heard_with_the_fields_it_changed(heard, django_capture_on_commit_callbacks):
    """As affiliate_update: each affiliate the batch changed, with the fields that changed (so
    the segments refresh only those that test them), attributes too; not those left as they were."""
    ana = affiliate_create(record={"external_id": "H-6", "name": "Ana", "city": "Recife"}, source="ui")
    bia = affiliate_create(record={"external_id": "H-7", "name": "Bia", "plan": "Ouro"}, source="ui")
    caio = affiliate_create(record={"external_id": "H-8", "name": "Caio"}, source="ui")
    caio.attributes = {"curso": "Investimentos"}
    caio.save()
    heard["affiliate_changed"].clear()
    with django_capture_on_commit_callbacks(execute=True):
        affiliates_upsert(
            records=[
                ({"external_id": "H-6", "name": "Ana", "city": "Olinda", "plan": "Prata"}, None),
                ({"external_id": "H-7", "name": "Bia", "plan": "Ouro"}, {"curso": "Crédito"}),
                ({"external_id": "H-8", "name": "Caio"}, {"curso": "Investimentos"}),  # as it was
            ]
        )

    changed = {c.affiliate_id: (c.created, c.fields) for c in heard["affiliate_changed"]}
    assert changed == {ana.pk: (False, ("city", "plan")), bia.pk: (False, ("attributes",))}
    assert caio.pk not in changed
