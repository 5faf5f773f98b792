from decimal import Decimal

import pytest

from crm.templatetags.crm_format import brl, cpf, phone_br


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("1234.5"), "R$\u00a01.234,50"),
        ("0", "R$\u00a00,00"),
        (Decimal("-15.2"), "-R$\u00a015,20"),
        (1000000, "R$\u00a01.000.000,00"),
        (None, ""),
    ],
)
def test_brl_uses_brazilian_separators_and_two_places(value, shown):
    assert brl(value) == shown


def test_cpf_and_phone_are_shown_the_brazilian_way():
    assert cpf("12345678909") == "123.456.789-09"
    assert phone_br("+5511987654321") == "(11) 98765-4321"
    assert phone_br("+14155550123") == "+14155550123"
