"""A segment a loyalty rule of the live or the draft rule set names is not deleted (loyalty answers
crm.segment_uses); a retired rule set's rule does not keep it."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from crm.models import Segment
from crm.services.segments import SegmentInUse, segment_delete, segment_save
from loyalty.models import RuleSetStatus
from loyalty.tests.helpers import live

pytestmark = pytest.mark.django_db

RECIFE = {
    "version": 1,
    "root": {
        "kind": "group",
        "op": "and",
        "conditions": [{"kind": "field", "field": "city", "operator": "eq", "value": "Recife"}],
    },
}


def test_a_live_rule_keeps_its_segment_a_retired_one_does_not(udn_a):
    with tenant_context(udn_a):
        segment = segment_save(name="Recife", definition=RECIFE, by="t")
        rule_set = live(
            {
                "name": "Cash in em Recife",
                "event_type": "cash_in",
                "points_kind": "fixed",
                "points": 10,
                "segment_id": segment.pk,
            }
        )
        with pytest.raises(SegmentInUse) as refused:
            segment_delete(segment=segment)
        assert refused.value.message == (
            "O segmento “Recife” não pode ser excluído enquanto estiver em uso. "
            "Usado em: Regra de fidelidade “Cash in em Recife” (em vigor)."
        )
        rule_set.status = RuleSetStatus.RETIRED
        rule_set.save(update_fields=["status"])
        segment_delete(segment=segment)
        assert not Segment.objects.exists()
