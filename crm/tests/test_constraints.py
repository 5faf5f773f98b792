"""The database's own checks on stored CPFs and phones: the cheap expressions (crm.models.DigitsOnly)
accept exactly what the regular expressions they replace accept (values within the columns' lengths)."""

import re

import pytest
from django.db import IntegrityError, transaction
from django_tenants.utils import tenant_context

from crm.models import Affiliate

CPF_RULE = re.compile(r"^[0-9]{11}$")
PHONE_RULE = re.compile(r"^\+[1-9][0-9]{7,14}$")

CPFS = ["", "52998224725", "00000000000", "5299822472", "529.982.247", "5299822472a",
        " 5299822472", "5299822472\u0663", "+5299822472"]  # fmt: skip
PHONES = ["", "+5511987654321", "+12345678", "+123456789012345", "+1234567", "+1234567890123456",
          "+0511987654321", "5511987654321", "++511987654321", "+55 11987654321", "+5511\u0669876543",
          "+", "+5511987654a"]  # fmt: skip


@pytest.mark.parametrize(("field", "value", "rule"), [*[("cpf", v, CPF_RULE) for v in CPFS],
                                                      *[("phone", v, PHONE_RULE) for v in PHONES]])  # fmt: skip
def test_the_database_accepts_what_the_rule_accepts(udn_a, field, value, rule):
    accepted = value == "" or rule.fullmatch(value) is not None
    with tenant_context(udn_a):
        try:
            with transaction.atomic():
                Affiliate.objects.create(external_id="X-1", name="Teste", **{field: value})
            stored = True
        except IntegrityError:
            stored = False
    assert stored == accepted, (field, value)
