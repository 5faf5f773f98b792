"""Deleting a segment: refused, naming what uses it, while a segment includes it or anything an app
registered in crm.segment_uses reports; otherwise gone with its kept members. Saving and deleting
segments leave audit entries. (Journeys, broadcasts and loyalty rules are tested in their apps:
the core imports none of them.)"""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from crm.models import Affiliate, AuditEntry, Segment, SegmentMembership
from crm.segment_uses import SegmentUse, segment_uses_register, segment_uses_unregister
from crm.selectors.segments import segment_uses
from crm.services.segments import SegmentInUse, segment_delete, segment_members_refresh, segment_save
from tenants.actors import Actor, actor_bound

pytestmark = pytest.mark.django_db


def _tree(*conditions: dict) -> dict:
    return {"version": 1, "root": {"kind": "group", "op": "and", "conditions": list(conditions)}}


RECIFE = _tree({"kind": "field", "field": "city", "operator": "eq", "value": "Recife"})


def test_an_unused_segment_is_deleted_with_its_kept_members(udn_a):
    with tenant_context(udn_a):
        Affiliate.objects.create(external_id="D-1", name="Ana", city="Recife")
        segment = segment_save(name="Recife", definition=RECIFE, by="t", tracked=True)
        segment_members_refresh(segment=segment)
        assert SegmentMembership.objects.filter(segment=segment).count() == 1
        segment_delete(segment=segment)
        assert not Segment.objects.filter(pk=segment.pk).exists()
        assert not SegmentMembership.objects.exists()


def test_a_segment_another_includes_is_not_deleted_and_the_error_names_it(udn_a):
    with tenant_context(udn_a):
        base = segment_save(name="Recife", definition=RECIFE, by="t")
        segment_save(
            name="Recife ativos", definition=_tree({"kind": "segment", "segment_id": base.pk}), by="t"
        )
        with pytest.raises(SegmentInUse) as refused:
            segment_delete(segment=base)
        assert refused.value.message == (
            "O segmento “Recife” não pode ser excluído enquanto estiver em uso. "
            "Usado em: Segmento “Recife ativos”."
        )
        assert Segment.objects.filter(pk=base.pk).exists()
        assert not AuditEntry.objects.filter(action="segment.deleted").exists()


def test_what_a_registered_provider_reports_blocks_the_deletion(udn_a):
    asked: list[int] = []

    def provider(*, segment_id: int) -> list[SegmentUse]:
        asked.append(segment_id)
        return (
            [SegmentUse(kind="jornada", name="Boas-vindas", detail="gatilho")]
            if segment_id == watched
            else []
        )

    with tenant_context(udn_a):
        used = segment_save(name="Recife", definition=RECIFE, by="t")
        free = segment_save(name="Outro", definition=RECIFE, by="t")
        watched = used.pk
        segment_uses_register(name="test-provider", provider=provider)
        try:
            assert [str(use) for use in segment_uses(segment_id=used.pk)] == [
                "Jornada “Boas-vindas” (gatilho)"
            ]
            with pytest.raises(SegmentInUse) as refused:
                segment_delete(segment=used)
            assert "Jornada “Boas-vindas” (gatilho)" in refused.value.message
            segment_delete(segment=free)
        finally:
            segment_uses_unregister(name="test-provider")
        assert asked[-1] == free.pk
        assert list(Segment.objects.values_list("name", flat=True)) == ["Recife"]


def test_creating_changing_and_deleting_a_segment_are_audited(udn_a):
    person = Actor(kind="user", id="7", label="marina@alpha.test")
    with tenant_context(udn_a), actor_bound(person):
        segment = segment_save(name="Recife", definition=RECIFE, by="marina@alpha.test")
        segment_save(name="Recife", definition=RECIFE, by="marina@alpha.test", segment=segment)  # no change
        natal = _tree({"kind": "field", "field": "city", "operator": "eq", "value": "Natal"})
        segment_save(name="Natal", definition=natal, by="marina@alpha.test", segment=segment, tracked=True)
        segment_delete(segment=segment)
        entries = list(AuditEntry.objects.filter(target_type="segment").order_by("id"))
    assert [entry.action for entry in entries] == ["segment.created", "segment.updated", "segment.deleted"]
    assert {entry.target_id for entry in entries} == {str(segment.pk)}
    assert {entry.actor_label for entry in entries} == {"marina@alpha.test"}
    created, updated, deleted = (entry.changes for entry in entries)
    assert created == {"name": "Recife", "description": "", "tracked": False, "definition": RECIFE}
    assert updated == {
        "fields": {"name": ["Recife", "Natal"], "tracked": [False, True], "definition": [RECIFE, natal]}
    }
    assert deleted["name"] == "Natal" and deleted["definition"] == natal


# --- the page -----------------------------------------------------------------------------------


def test_a_marketer_deletes_from_the_page_and_an_analyst_cannot(udn_a, marketer, analyst, client_for):
    with tenant_context(udn_a):
        segment = segment_save(name="Recife", definition=RECIFE, by="t")
    page = client_for(udn_a, marketer).get(f"/segments/{segment.pk}/").content.decode()
    assert f'action="/segments/{segment.pk}/delete/"' in page and 'data-testid="segment-delete"' in page
    assert 'data-confirm="Excluir o segmento “Recife”? Não é possível desfazer."' in page
    assert "Nenhuma jornada, campanha, segmento ou regra de fidelidade usa este segmento." in page

    reader = client_for(udn_a, analyst)
    assert 'data-testid="segment-delete"' not in reader.get(f"/segments/{segment.pk}/").content.decode()
    assert reader.post(f"/segments/{segment.pk}/delete/").status_code == 403
    with tenant_context(udn_a):
        assert Segment.objects.filter(pk=segment.pk).exists()

    writer = client_for(udn_a, marketer)
    assert writer.get(f"/segments/{segment.pk}/delete/")["Location"] == "/segments/"  # GET deletes nothing
    deleted = writer.post(f"/segments/{segment.pk}/delete/", follow=True)
    assert deleted.redirect_chain == [("/segments/", 302)]
    assert "Segmento “Recife” excluído." in deleted.content.decode()
    with tenant_context(udn_a):
        assert not Segment.objects.exists()
    audit = writer.get("/audit/", {"target_type": "segment"}).content.decode()
    assert "Segmento excluído" in audit and "Segmento criado" in audit


def test_the_page_says_what_uses_the_segment_and_a_delete_is_refused_with_the_reason(
    udn_a, marketer, client_for
):
    with tenant_context(udn_a):
        base = segment_save(name="Recife", definition=RECIFE, by="t")
        segment_save(
            name="Recife ativos", definition=_tree({"kind": "segment", "segment_id": base.pk}), by="t"
        )
    writer = client_for(udn_a, marketer)
    page = writer.get(f"/segments/{base.pk}/").content.decode()
    assert '<li data-testid="segment-use">Segmento “Recife ativos”</li>' in page
    refused = writer.post(f"/segments/{base.pk}/delete/", follow=True)
    assert refused.redirect_chain == [(f"/segments/{base.pk}/", 302)]
    assert (
        "O segmento “Recife” não pode ser excluído enquanto estiver em uso. Usado em: Segmento “Recife ativos”."
        in refused.content.decode()
    )
    with tenant_context(udn_a):
        assert Segment.objects.filter(pk=base.pk).exists()


def test_another_udns_segment_cannot_be_deleted(udn_a, udn_b, marketer, client_for):
    with tenant_context(udn_b):
        theirs = segment_save(name="Deles", definition=RECIFE, by="x")
    assert client_for(udn_a, marketer).post(f"/segments/{theirs.pk}/delete/").status_code == 404
    with tenant_context(udn_b):
        assert Segment.objects.filter(pk=theirs.pk).exists()
