"""crm.normalize: the scalar rules, the vectorized twin, and their agreement on a varied corpus."""

import contextlib
import random
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import phonenumbers
import polars as pl
import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import translation
from faker import Faker
from phonenumbers import PhoneNumberType
from validate_docbr import CPF

from crm.brazil import (
    ACCENTED,
    DDDS,
    PLAIN,
    STATE_TIME_ZONES,
    STATES,
    cpf_check_digits,
    cpf_valid,
    fold,
    mobile_valid,
    phone_kind,
    strip_accents,
)
from crm.models import Affiliate, Folded, Origin
from crm.normalize import (
    OUTPUT_COLUMNS,
    REJECTING_REASONS,
    STANDARD_FIELDS,
    NormalizationError,
    Reason,
    affiliate_record_normalize,
    amount_parse,
    birth_date_parse,
    cpf_normalize,
    email_normalize,
    frame_normalize,
    name_normalize,
    origin_normalize,
    phone_normalize,
    reason_message,
    state_normalize,
    state_time_zone,
    tags_parse,
)
from crm.normalize.frames import _fold_expr
from crm.normalize.scalar import _fold
from crm.selectors.affiliates import fold_text
from crm.selectors.quality import CPF_VALID_SQL, PHONE_MOBILE_BR_RE

TODAY = date(2026, 11, 22)


def reason_of(function, value, **kwargs) -> Reason:
    with pytest.raises(NormalizationError) as caught:
        function(value, **kwargs)
    return caught.value.reason


# --- reasons ----------------------------------------------------------------------------------------------------


def test_every_reason_has_a_translatable_message():
    with translation.override("en"):
        for reason in Reason:
            message = reason_message(reason)
            assert message and message != reason.value
        assert reason_message("cpf_invalid") == reason_message(Reason.CPF_INVALID)
    assert reason_message("not_a_reason") == "not_a_reason"


def test_normalization_error_carries_its_reason():
    error = NormalizationError(Reason.CPF_INVALID)
    assert error.reason is Reason.CPF_INVALID
    assert isinstance(error, ValueError)


# --- CPF --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("123.456.789-09", "12345678909"),
        ("12345678909", "12345678909"),
        (" 123 456 789 09 ", "12345678909"),
        ("12345678909.0", "12345678909"),
        (12345678909, "12345678909"),
        (12345678909.0, "12345678909"),
        (1234567890, "01234567890"),  # a spreadsheet ate the leading zero
        ("1234567890", "01234567890"),
        ("12345601", "00012345601"),
        ("", ""),
        ("   ", ""),
        (None, ""),
    ],
)
def test_cpf_is_eleven_digits_with_lost_zeros_put_back(value, expected):
    assert cpf_normalize(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "123.456.789-00",
        "111.111.111-11",
        "00000000000",
        "abc",
        "1234567",
        "123456789012",
        "123.456.789/09",
        12.5,
    ],
)
def test_cpf_with_wrong_check_digits_or_shape_is_invalid(value):
    assert reason_of(cpf_normalize, value) is Reason.CPF_INVALID


# --- phone ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "(11) 98765-4321",
        "11987654321",
        "11 98765-4321",
        "+55 11 98765-4321",
        "+55 (11) 98765-4321",
        "5511987654321",
        "011 98765 4321",
        "0xx11 98765-4321",
        "(0XX11) 98765-4321",
        "0 15 11 98765-4321",  # trunk prefix and carrier code
        "005511987654321",
        "11 8765-4321",  # old 8-digit mobile: the 9 is added
        "+55 11 8765-4321",
        "11987654321.0",
        11987654321,
        11987654321.0,
    ],
)
def test_brazilian_mobiles_in_any_usual_format_become_e164(value):
    assert phone_normalize(value) == "+5511987654321"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("98765-4321", Reason.PHONE_NO_DDD),
        ("8765-4321", Reason.PHONE_NO_DDD),
        ("+55 98765-4321", Reason.PHONE_NO_DDD),
        ("(11) 3456-7890", Reason.PHONE_LANDLINE),
        ("+55 11 3456-7890", Reason.PHONE_LANDLINE),
        ("+44 20 7946 0958", Reason.PHONE_FOREIGN),
        ("0800 123 4567", Reason.PHONE_INVALID),
        ("0300 069 5604", Reason.PHONE_INVALID),
        ("(00) 98765-4321", Reason.PHONE_INVALID),
        ("(20) 98765-4321", Reason.PHONE_INVALID),  # no such DDD
        ("11 98765-4321 ramal 2", Reason.PHONE_INVALID),
        ("abc", Reason.PHONE_INVALID),
        ("+", Reason.PHONE_INVALID),
        ("+999 123", Reason.PHONE_INVALID),
    ],
)
def test_phones_that_are_not_reachable_mobiles_are_rejected_with_why(value, reason):
    assert reason_of(phone_normalize, value) is reason


@pytest.mark.parametrize(
    "value", ["+44 7911 123456", "0044 7911 123456", "+351 912 345 678", "+1 650 253 0000", "+14155552671"]
)
def test_foreign_numbers_are_refused_brazilian_mobiles_only(value):
    # The product writes by WhatsApp and SMS to Brazilian affiliates (crm.brazil).
    assert reason_of(phone_normalize, value) is Reason.PHONE_FOREIGN
    assert (
        affiliate_record_normalize(record={"name": "Ana", "cpf": "52998224725", "phone": value}).values[
            "phone"
        ]
        == ""
    )


def test_ddd_55_is_not_mistaken_for_the_country_code():
    assert phone_normalize("55 98765-4321") == "+5555987654321"
    assert phone_normalize("+55 55 98765-4321") == "+5555987654321"


def test_blank_phone_is_empty():
    assert phone_normalize("  ") == ""
    assert phone_normalize(None) == ""


# --- e-mail, name -----------------------------------------------------------------------------------------------


def test_email_is_validated_and_lower_cased():
    assert email_normalize(" Foo.Bar@Example.COM ") == "foo.bar@example.com"
    assert email_normalize("maria+tag@uol.com.br") == "maria+tag@uol.com.br"
    assert email_normalize("") == ""


@pytest.mark.parametrize(
    "value", ["foo@", "@foo.com", "a b@c.com", "a@b", "a@@b.com", "a..b@c.com", "a@localhost", "x@foo.test"]
)
def test_malformed_email_is_invalid(value):
    assert reason_of(email_normalize, value) is Reason.EMAIL_INVALID


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("JOÃO DA SILVA", "João da Silva"),
        ("  maria   dos  santos E souza ", "Maria dos Santos e Souza"),
        ("MARIA DA E DOS SANTOS", "Maria da e dos Santos"),
        ("DA SILVA", "Da Silva"),
        ("ana-maria d'ávila", "Ana-Maria D'Ávila"),
        ("\tpedro\u00a0álvares  cabral", "Pedro Álvares Cabral"),
        ("", ""),
        (None, ""),
    ],
)
def test_name_is_title_case_with_portuguese_particles(value, expected):
    assert name_normalize(value) == expected


# --- birth date -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "17/05/1990",
        "17/5/1990",
        "17-05-1990",
        "17.05.1990",
        "1990-05-17",
        "1990-05-17 00:00:00",
        "1990-05-17T00:00:00",
        "17/05/90",
        datetime(1990, 5, 17, 13, 45),
        date(1990, 5, 17),
    ],
)
def test_birth_date_formats(value):
    assert birth_date_parse(value, today=TODAY) == date(1990, 5, 17)


def test_two_digit_year_is_the_latest_that_is_not_in_the_future():
    assert birth_date_parse("17/05/05", today=TODAY) == date(2005, 5, 17)
    assert birth_date_parse("22/11/26", today=TODAY) == date(2026, 11, 22)
    assert birth_date_parse("01/12/26", today=TODAY) == date(1926, 12, 1)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("31/02/1990", Reason.BIRTH_DATE_INVALID),
        ("29/02/1900", Reason.BIRTH_DATE_INVALID),
        ("01/13/1990", Reason.BIRTH_DATE_INVALID),
        ("ontem", Reason.BIRTH_DATE_INVALID),
        ("1990/05/17", Reason.BIRTH_DATE_INVALID),
        ("23/11/2026", Reason.BIRTH_DATE_FUTURE),
        ("01/01/2090", Reason.BIRTH_DATE_FUTURE),
        ("31/12/1899", Reason.BIRTH_DATE_FUTURE),
        (date(1850, 1, 1), Reason.BIRTH_DATE_FUTURE),
    ],
)
def test_impossible_future_or_too_old_birth_dates_are_rejected(value, reason):
    assert reason_of(birth_date_parse, value, today=TODAY) is reason


def test_birth_date_in_the_future_is_judged_against_the_local_today():
    with time_machine.travel(datetime(2030, 1, 1, 12, 0), tick=False):
        assert birth_date_parse("31/12/2029") == date(2029, 12, 31)
        assert reason_of(birth_date_parse, "02/01/2030") is Reason.BIRTH_DATE_FUTURE


def test_blank_birth_date_is_none():
    assert birth_date_parse(" ", today=TODAY) is None
    assert birth_date_parse(None, today=TODAY) is None


# --- amounts, state, origin, tags -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.234,56", "1234.56"),
        ("R$ 1.234,56", "1234.56"),
        ("R$\u00a01.234,56", "1234.56"),
        ("1234.56", "1234.56"),
        ("1234,5", "1234.50"),
        ("-10,00", "-10.00"),
        ("-R$ 10,00", "-10.00"),
        ("1.234", "1234.00"),  # a dot before three digits groups thousands, as Brazilians write
        ("1.000.000,00", "1000000.00"),
        ("1,234.56", "1234.56"),
        ("0,005", "0.01"),  # half-up
        ("99,994", "99.99"),
        (",5", "0.50"),
        ("-0,00", "0.00"),
        ("99999999,99", "99999999.99"),
        (1234.5, "1234.50"),
        (123.456, "123.46"),
        (Decimal("10"), "10.00"),
        (7, "7.00"),
    ],
)
def test_amounts_in_brazilian_and_plain_notation(value, expected):
    amount = amount_parse(value)
    assert amount == Decimal(expected)
    assert str(amount) == expected


@pytest.mark.parametrize("value", ["abc", "1,2,3", "1.2.3", "-", "100000000", "99999999,995", "12a", True])
def test_unreadable_or_too_large_amounts_are_invalid(value):
    assert reason_of(amount_parse, value) is Reason.AMOUNT_INVALID


def test_blank_amount_is_none():
    assert amount_parse("") is None
    assert amount_parse("R$ ") is None
    assert amount_parse(None) is None


@pytest.mark.parametrize(
    ("value", "uf"),
    [
        ("sp", "SP"),
        ("SP", "SP"),
        ("São Paulo", "SP"),
        ("sao paulo", "SP"),
        ("rio grande  do sul", "RS"),
        ("Pará", "PA"),
    ],
)
def test_state_accepts_codes_and_names(value, uf):
    assert state_normalize(value) == uf


def test_unknown_state_is_invalid():
    assert reason_of(state_normalize, "Narnia") is Reason.STATE_INVALID
    assert state_normalize("") == ""


@pytest.mark.parametrize(
    ("uf", "zone"),
    [
        ("SP", "America/Sao_Paulo"),
        ("RJ", "America/Sao_Paulo"),
        ("AM", "America/Manaus"),
        ("MT", "America/Cuiaba"),
        ("MS", "America/Campo_Grande"),
        ("RO", "America/Porto_Velho"),
        ("RR", "America/Boa_Vista"),
        ("AC", "America/Rio_Branco"),
        ("PE", "America/Recife"),
        ("BA", "America/Bahia"),
        ("CE", "America/Fortaleza"),
        ("MA", "America/Fortaleza"),
        ("AL", "America/Maceio"),
        ("SE", "America/Maceio"),
        ("PA", "America/Belem"),
        ("AP", "America/Belem"),
        ("TO", "America/Araguaina"),
        ("bahia", "America/Bahia"),
        ("", ""),
    ],
)
def test_state_time_zone(uf, zone):
    assert state_time_zone(uf) == zone


@pytest.mark.parametrize(
    ("value", "origin"),
    [
        ("Loja", Origin.STORE),
        ("site", Origin.SITE),
        ("Website", Origin.SITE),
        ("internet", Origin.SITE),
        ("WhatsApp", Origin.WHATSAPP),
        ("zap", Origin.WHATSAPP),
        ("wpp", Origin.WHATSAPP),
        ("Parceiro", Origin.PARTNER),
        ("parceria", Origin.PARTNER),
        ("Indicação", Origin.REFERRAL),
        ("indicacao", Origin.REFERRAL),
        ("evento", Origin.EVENT),
        ("Feira", Origin.EVENT),
        ("Instagram", Origin.OTHER),
        ("", ""),
    ],
)
def test_origin_maps_to_the_model_choices(value, origin):
    assert origin_normalize(value) == origin


def test_tags_are_split_trimmed_lowered_and_deduplicated():
    assert tags_parse("VIP; gold | vip,, Novo ") == ["vip", "gold", "novo"]
    assert tags_parse("") == []
    assert tags_parse("x" * 50) == ["x" * 40]


# --- frame_normalize --------------------------------------------------------------------------------------------


def test_frame_has_the_output_columns_and_types_in_row_order():
    df = pl.DataFrame({"_row": [7, 3], "name": ["ANA", "BIA"], "external_id": ["a", "b"]})
    out = frame_normalize(df, today=TODAY)
    assert tuple(out.columns) == OUTPUT_COLUMNS
    assert out.schema["birth_date"] == pl.Date
    assert out.schema["plan_fee"] == pl.Utf8
    assert out.schema["tags"] == pl.List(pl.Utf8)
    assert out.schema["_reasons"] == pl.List(pl.Utf8)
    assert out["_row"].to_list() == [7, 3]
    assert out["name"].to_list() == ["Ana", "Bia"]
    # Missing optional fields are blank, not reasons to reject.
    assert out["_reasons"].to_list() == [[], []]
    assert out["birth_date"].to_list() == [None, None]
    assert out["plan_fee"].to_list() == [None, None]
    assert out["tags"].to_list() == [[], []]


def test_frame_rejects_rows_with_every_reason_that_applies():
    df = pl.DataFrame(
        {
            "_row": [1, 2, 3],
            "external_id": ["", "", "x" * 65],
            "cpf": ["123.456.789-00", "123.456.789-09", ""],
            "name": ["", "Ana", "Bia"],
            "phone": ["98765-4321", "(11) 3456-7890", "+44 20 7946 0958"],
            "email": ["a@b", "ok@uol.com.br", "josé@exêmplo..br"],
            "birth_date": ["31/02/1990", "01/01/2090", ""],
            "state": ["XX", "sp", ""],
            "plan_fee": ["abc", "", "R$ 10"],
        }
    )
    out = frame_normalize(df, today=TODAY)
    assert out["_reasons"].to_list() == [
        ["id_missing", "cpf_invalid", "name_missing", "email_invalid", "phone_no_ddd", "birth_date_invalid",
         "state_invalid", "amount_invalid"],
        ["phone_landline", "birth_date_future"],
        ["email_invalid", "phone_foreign", "value_too_long"],
    ]  # fmt: skip
    # A blank external id takes the CPF.
    assert out["external_id"].to_list()[1] == "12345678909"
    assert out["plan_fee"].to_list() == [None, None, "10.00"]
    # No identity or name, or a value too long for its column: rejected. The second row only has bad
    # optional fields: an import keeps it, with those fields blank, and its reasons are warnings.
    assert out["_rejected"].to_list() == [True, False, True]
    assert out.row(1, named=True)["phone"] == "" and out.row(1, named=True)["birth_date"] is None


def test_a_row_with_only_bad_optional_fields_is_not_rejected_but_keeps_its_reasons_as_warnings():
    df = pl.DataFrame(
        {
            "_row": [1, 2, 3, 4],
            "external_id": ["A1", "", "A3", "A4"],
            "cpf": ["", "123.456.789-09", "", "123.456.789-00"],
            "name": ["Ana", "Bia", "Caio", "Dora"],
            "phone": ["98765-4321", "(11) 3456-7890", "(11) 98765-4321", ""],
            "email": ["ana@", "", "", ""],
            "birth_date": ["", "31/02/1990", "", ""],
            "state": ["", "", "XX", ""],
            "plan_fee": ["", "", "abc", ""],
        }
    )
    out = frame_normalize(df, today=TODAY)

    assert out["_reasons"].to_list() == [
        ["email_invalid", "phone_no_ddd"],
        ["phone_landline", "birth_date_invalid"],
        ["state_invalid", "amount_invalid"],
        ["cpf_invalid"],  # a code, but a bad CPF: the CPF is identity too
    ]
    assert out["_rejected"].to_list() == [False, False, False, True]
    assert out["phone"].to_list() == ["", "", "+5511987654321", ""]
    assert out["email"].to_list()[0] == "" and out["birth_date"].to_list()[1] is None
    assert out["state"].to_list()[2] == "" and out["plan_fee"].to_list()[2] is None
    rejecting = {"id_missing", "cpf_invalid", "name_missing", "value_too_long"}
    assert {str(r) for r in REJECTING_REASONS} == rejecting
    record = affiliate_record_normalize(record={"external_id": "A1", "name": "Ana", "phone": "98765-4321"})
    assert record.reasons == [Reason.PHONE_NO_DDD] and not record.rejected and not record.is_valid


def test_frame_accepts_numbers_and_dates_as_spreadsheets_give_them():
    df = pl.DataFrame(
        {
            "_row": [1, 2],
            "cpf": [1234567890, 12345678909],
            "phone": [11987654321.0, 5511987654321.0],
            "birth_date": [date(1990, 5, 17), date(2001, 1, 2)],
            "plan_fee": [123.456, 99.0],
            "name": ["a", "b"],
        }
    )
    out = frame_normalize(df, today=TODAY)
    assert out["cpf"].to_list() == ["01234567890", "12345678909"]
    assert out["phone"].to_list() == ["+5511987654321", "+5511987654321"]
    assert out["birth_date"].to_list() == [date(1990, 5, 17), date(2001, 1, 2)]
    assert out["plan_fee"].to_list() == ["123.46", "99.00"]
    assert out["_reasons"].to_list() == [[], []]


def test_frame_of_no_rows():
    out = frame_normalize(pl.DataFrame({"_row": pl.Series([], dtype=pl.Int64)}), today=TODAY)
    assert out.height == 0
    assert tuple(out.columns) == OUTPUT_COLUMNS


# --- agreement between the scalar rules and frame_normalize -----------------------------------------------------

UGLY: dict[str, list] = {
    "external_id": ["A1", " 00123 ", "", None, "x" * 65, "B-2"],
    "cpf": [
        "123.456.789-09", "12345678909", " 123.456.789-09 ", "1234567890", "12345678909.0", "123 456 789 09",
        "12345601", "123.456.789-00", "111.111.111-11", "00000000000", "abc", "123", "123456789012",
        "123.456.789/09", "", "   ", None, "1234567", "0", "99999999999",
    ],
    "phone": [
        "(11) 98765-4321", "11987654321", "+55 11 98765-4321", "5511987654321", "011 98765 4321",
        "0xx11 98765-4321", "(0XX11) 98765-4321", "0 15 11 98765-4321", "015 11 98765 4321", "11 8765-4321",
        "+55 11 8765-4321", "98765-4321", "8765-4321", "(11) 3456-7890", "+55 11 3456-7890", "0800 123 4567",
        "0300 069 5604", "+1 650 253 0000", "+44 7911 123456", "+44 20 7946 0958", "0044 7911 123456",
        "+351 912 345 678", "abc", "11 98765-4321 ramal 2", "+", "(00) 98765-4321", "11987654321.0",
        "55 98765-4321", "+55 55 98765-4321", "+999 123", "11 7123-4567", "(21) 5555-1234", "", None, "++5511987654321",
        "11/98765-4321", "0055 11 98765-4321", "+55 0 11 98765-4321", "4003-1234", "11 2345 678",
        "+14155552671", "+1 415 555 2671", "00 1 415 555 2671",
    ],
    "email": [
        "Foo.Bar@Example.COM", " joao@uol.com.br ", "maria+tag@gmail.com", "o'neil@x.com.br", "foo@", "@foo.com",
        "a b@c.com", "a@b", "a@@b.com", "a..b@c.com", ".a@b.com", "a.@b.com", "a@b..com", "a@-b.com", "a@b.c1",
        "a@localhost", "x@foo.test", "x@foo.local", "josé@exemplo.com.br", "jose@exêmplo.com.br",
        "x@xn--bcher-kva.com", "x@ab--cd.com", '"quoted"@x.com', "<a@b.com>", "Name <a@b.com>", "", None,
        "a@b.com.", "a_b-c@sub-domain.example.co", "UPPER@CASE.ORG", "a@" + "b" * 64 + ".com", "x@y.z",
        "a/b{c}|d~e@f.com", "info@Example.com",
    ],
    "name": [
        "JOÃO DA SILVA", "  maria   dos  santos e souza ", "ana-maria d'ávila", "DA SILVA", "josé de",
        "MARIA DA E DOS SANTOS", "\tPedro\u00a0Álvares  Cabral", "", "   ", None, "o'neil", "3rd street",
    ],
    "birth_date": [
        "17/05/1990", "17/5/1990", "7/5/1990", "17-05-1990", "17.05.1990", "1990-05-17", "1990-05-17 00:00:00",
        "1990-05-17T00:00:00", "17/05/90", "17/05/05", "01/12/26", "22/11/26", "31/02/1990", "30/02/2000",
        "29/02/2000", "29/02/1900", "00/01/1990", "01/13/1990", "01/01/1899", "31/12/1899", "01/01/1900",
        "23/11/2026", "01/01/2090", "ontem", "1990/05/17", "17/05/1990 10:00", "", None, "29/02/28", "29/02/27",
    ],
    "city": ["SÃO PAULO", "rio de janeiro", "  juiz   de fora ", "", None, "EMBU DAS ARTES"],
    "state": [
        "sp", "SP", " São Paulo ", "sao paulo", "SAO PAULO", "Rio Grande do Sul", "rio  grande do sul", "Pará",
        "para", "Amapá", "DF", "XX", "Narnia", "S.P.", "", None, "ceara", "AM", "mato grosso do sul",
    ],
    "plan": ["GOLD", "  plano   ouro ", "", None],
    "plan_fee": [
        "1.234,56", "R$ 1.234,56", "R$1.234,56", "1234.56", "1234,5", "-10,00", "R$ -10,00", "-R$ 10,00", "1.234",
        "1,234", "1,234.56", "1,234,567", "99,995", "99.994", "0,005", ",5", "10.", "0", "00,10", "-0,00",
        "99999999,99", "99999999,995", "100000000", "1.000.000,00", "abc", "1,2,3", "1.2.3", "R$", "-",
        "12 345,00", "", None, "0001.234", "1.23", "1.2345", "1234.5678",
    ],
    "origin": [
        "Loja", "LOJA", "site", "Website", "internet", "WhatsApp", "zap", "wpp", "Parceiro", "parceria",
        "Indicação", "indicacao", "evento", "Feira", "Instagram", "store", "", None,
    ],
    "tags": ["VIP; gold | vip", "a,b,,c", " Novo ", "x" * 50, "", None, "A|a|A", " ; | ,"],
}  # fmt: skip


def faker_corpus(size: int = 300) -> dict[str, list]:
    fake = Faker("pt_BR")
    fake.seed_instance(20261122)
    rng = random.Random(20261122)
    date_formats = ["%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d"]
    return {
        "external_id": [str(rng.randint(1, 10**6)) if rng.random() < 0.7 else "" for _ in range(size)],
        "cpf": [fake.cpf() if i % 2 else fake.cpf().replace(".", "").replace("-", "") for i in range(size)],
        "phone": [
            rng.choice([fake.cellphone_number, fake.phone_number, fake.msisdn])()
            for _ in range(size)
        ],
        "email": [rng.choice([fake.email, fake.free_email, fake.company_email])() for _ in range(size)],
        "name": [fake.name().upper() if i % 3 == 0 else fake.name() for i in range(size)],
        "birth_date": [fake.date_of_birth(maximum_age=110).strftime(rng.choice(date_formats)) for _ in range(size)],
        "city": [fake.city() for _ in range(size)],
        "state": [rng.choice([fake.estado_sigla(), fake.estado_nome(), fake.estado_nome().lower()]) for _ in range(size)],
        "plan": [rng.choice(["Gold", "Silver", "BASIC"]) for _ in range(size)],
        "plan_fee": [
            rng.choice([f"{v:,.2f}".replace(",", "_").replace(".", ",").replace("_", "."), f"R$ {v:.2f}"])
            for v in (rng.uniform(-100, 20000) for _ in range(size))
        ],
        "origin": [rng.choice(["Loja", "site", "zap", "Parceiro", "indicação", "feira", "Instagram"]) for _ in range(size)],
        "tags": [rng.choice(["vip; gold", "VIP|novo", "", "a, b, c"]) for _ in range(size)],
    }  # fmt: skip


def phone_fuzz(size: int = 1500) -> list[str]:
    """Random DDDs and numbers, written the ways people write them."""
    rng = random.Random(11)
    values = []
    for _ in range(size):
        ddd = f"{rng.randint(10, 99)}"
        number = "".join(rng.choice("0123456789") for _ in range(rng.choice([8, 9, 9])))
        prefix = rng.choice(["", "", "+55 ", "55", "0", "0xx", "+", "00"])
        values.append(rng.choice([f"{prefix}{ddd}{number}", f"{prefix}({ddd}) {number[:-4]}-{number[-4:]}"]))
    return values


def cpf_fuzz(size: int = 500) -> list[str]:
    rng = random.Random(12)
    return [
        "".join(rng.choice("0123456789") for _ in range(rng.choice([8, 10, 11, 11]))) for _ in range(size)
    ]


def email_fuzz(size: int = 500) -> list[str]:
    """Faker addresses with a character put in, taken out or doubled."""
    fake = Faker("pt_BR")
    fake.seed_instance(13)
    rng = random.Random(13)
    values = []
    for _ in range(size):
        email = fake.email()
        at = rng.randrange(len(email))
        mutation = rng.choice(["insert", "delete", "double", "none"])
        if mutation == "insert":
            email = email[:at] + rng.choice(".-_@ +'é#\"(") + email[at:]
        elif mutation == "delete":
            email = email[:at] + email[at + 1 :]
        elif mutation == "double":
            email = email[:at] + email[at] + email[at:]
        values.append(email)
    return values


def corpus_rows() -> list[dict]:
    columns = {name: UGLY[name] + faker_corpus()[name] for name in STANDARD_FIELDS}
    columns["phone"] += phone_fuzz()
    columns["cpf"] += cpf_fuzz()
    columns["email"] += email_fuzz()
    size = max(len(values) for values in columns.values())
    # Each column cycles through its own values, so values meet in varied combinations.
    return [{name: values[i % len(values)] for name, values in columns.items()} for i in range(size)]


def test_frame_and_scalar_rules_agree_on_a_varied_corpus():
    rows = corpus_rows()
    df = pl.DataFrame(
        {"_row": list(range(len(rows))), **{name: [row[name] for row in rows] for name in STANDARD_FIELDS}},
        schema={"_row": pl.Int64, **dict.fromkeys(STANDARD_FIELDS, pl.Utf8)},
    )
    out = frame_normalize(df, today=TODAY)
    assert out.height == len(rows)
    assert out["_row"].to_list() == list(range(len(rows)))

    disagreements = []
    for row, vectorized in zip(rows, out.iter_rows(named=True), strict=True):
        scalar = affiliate_record_normalize(record=row, today=TODAY)
        expected = {
            **scalar.values,
            "plan_fee": None if scalar.values["plan_fee"] is None else str(scalar.values["plan_fee"]),
            "_reasons": [str(r) for r in scalar.reasons],
            "_rejected": scalar.rejected,
        }
        got = {key: vectorized[key] for key in expected}
        if got != expected:
            differing = {k: (row.get(k), expected[k], got[k]) for k in expected if expected[k] != got[k]}
            disagreements.append(differing)
    assert not disagreements, disagreements[:10]

    # The corpus really exercises both sides: accepted and rejected rows, and every reason.
    reasons = {code for codes in out["_reasons"].to_list() for code in codes}
    assert reasons == {str(r) for r in Reason}
    assert out.filter(pl.col("_reasons").list.len() == 0).height > 50
    # ...and rows an import keeps with warnings beside those it rejects.
    warned = out.filter(~pl.col("_rejected") & (pl.col("_reasons").list.len() > 0))
    assert warned.height > 50 and out.filter(pl.col("_rejected")).height > 50
    warnings = {code for codes in warned["_reasons"].to_list() for code in codes}
    assert warnings == {str(r) for r in Reason} - {str(r) for r in REJECTING_REASONS}


def test_record_normalize_fills_the_external_id_from_the_cpf():
    record = affiliate_record_normalize(record={"cpf": "123.456.789-09", "name": "ana"}, today=TODAY)
    assert record.is_valid
    assert record.values["external_id"] == "12345678909"
    missing = affiliate_record_normalize(record={"cpf": "123", "name": "ana"}, today=TODAY)
    assert missing.reasons == [Reason.ID_MISSING, Reason.CPF_INVALID]


def test_distinct_values_stay_apart_even_when_their_hashes_collide(monkeypatch):
    # The low-cardinality fields are matched back to their rows through a hash; a collision takes the exact path.
    monkeypatch.setattr(
        pl.Series, "hash", lambda self, *args, **kwargs: pl.zeros(len(self), dtype=pl.UInt64, eager=True)
    )
    df = pl.DataFrame({"_row": [1, 2, 3], "name": ["a", "b", "c"], "state": ["sp", "Bahia", "sp"]})
    out = frame_normalize(df, today=TODAY)
    assert out["state"].to_list() == ["SP", "BA", "SP"]
    assert out["time_zone"].to_list() == ["America/Sao_Paulo", "America/Bahia", "America/Sao_Paulo"]


# --- the Brazilian rules (crm.brazil): one definition, every variant held to it value by value ----------------


def cpf_values() -> list[str]:
    """11-digit CPFs, half of them valid, the repeated-digit ones, and a few that are not 11 digits."""
    rng = random.Random(21)
    values = []
    for _ in range(600):
        base = f"{rng.randrange(10**9):09d}"
        values.append(base + (cpf_check_digits(base) if rng.random() < 0.5 else f"{rng.randrange(100):02d}"))
    values += [digit * 11 for digit in "0123456789"]
    values += [cpf_normalize(value) for value in faker_corpus()["cpf"]]
    return values + ["", "1234567890", "123456789012", "1234567890a", "１２３４５６７８９０９"]


def test_the_cpf_rule_agrees_with_validate_docbr():
    values = cpf_values()
    assert sum(cpf_valid(value) for value in values) > 300  # both sides exercised
    eleven = [value for value in values if len(value) == 11 and value.isascii() and value.isdigit()]
    assert [cpf_valid(value) for value in eleven] == [CPF().validate(value) for value in eleven]


def test_the_quality_figures_sql_cpf_check_is_the_rule(db):
    values = cpf_values()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT a.cpf, {CPF_VALID_SQL} FROM unnest(%s::text[]) AS a(cpf)", [values])  # noqa: S608
        in_sql = dict(cursor.fetchall())
    assert {value: cpf_valid(value) for value in values} == in_sql


def test_the_polars_cpf_check_is_the_rule():
    values = [value for value in cpf_values() if len(value) == 11]  # shorter ones get their lost zeros back
    out = frame_normalize(pl.DataFrame({"cpf": values, "name": ["Ana"] * len(values)}), today=TODAY)
    assert out["cpf"].to_list() == [value if cpf_valid(value) else "" for value in values]


def test_the_cpf_constraint_takes_every_cpf_the_rule_accepts(db):
    constraint = next(c for c in Affiliate._meta.constraints if c.name == "affiliate_cpf_digits")
    for value in ["", *(value for value in cpf_values() if cpf_valid(value))][:150]:
        constraint.validate(Affiliate, Affiliate(cpf=value, name="Ana"))
    with pytest.raises(ValidationError):  # the constraint is the looser shape: a wrong one still fails
        constraint.validate(Affiliate, Affiliate(cpf="1234567890", name="Ana"))


def test_the_phone_rule_agrees_with_libphonenumber_on_every_ddd():
    """libphonenumber's metadata for Brazil as an independent witness of DDDS and the mobile and
    landline shapes (its old 8-digit radio mobiles aside: phone_normalize gives them their 9 first)."""
    checked = 0
    for ddd in range(10, 100):
        for first in "0123456789":
            for size in (8, 9):
                national = f"{ddd}{first}{'1234567890'[: size - 1]}"
                if size == 8 and first in "6789":
                    continue
                number = phonenumbers.parse(f"+55{national}", None)
                kind = phonenumbers.number_type(number) if phonenumbers.is_valid_number(number) else None
                expected = {PhoneNumberType.MOBILE: "mobile", PhoneNumberType.FIXED_LINE: "landline"}.get(
                    kind
                )
                assert phone_kind(national) == expected, national
                checked += 1
    assert checked == 90 * 10 * 2 - 90 * 4 and len(DDDS) == 67


def kept_phones() -> list[str]:
    """What phone_normalize keeps from the phone corpus."""
    kept = []
    for value in UGLY["phone"] + faker_corpus()["phone"] + phone_fuzz():
        with contextlib.suppress(NormalizationError):
            kept.append(phone_normalize(value))
    return kept


def phone_values() -> list[str]:
    """Stored-looking phones: what phone_normalize keeps, E.164 strings of every DDD with mobile,
    landline and odd first digits, foreign numbers and a few malformed ones."""
    made = [
        f"+55{ddd}{first}{'12345678'[: 8 if first == '9' else 7]}"
        for ddd in range(10, 100)
        for first in "0279"
    ]
    odd = [
        "+14155552671",
        "+447911123456",
        "+5511987654321 ",
        "5511987654321",
        "+55119876543210",
        "+551198765432",
    ]
    return [*kept_phones(), *made, *odd]


def test_the_quality_figures_sql_mobile_check_is_the_rule(db):
    values = phone_values()
    assert 300 < sum(mobile_valid(value) for value in values) < len(values) - 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT p, p ~ %s FROM unnest(%s::text[]) AS t(p)", [PHONE_MOBILE_BR_RE, values])
        in_sql = dict(cursor.fetchall())
    assert {value: mobile_valid(value) for value in values} == in_sql


def test_what_phone_normalize_keeps_is_a_valid_mobile_and_passes_the_constraint(db):
    constraint = next(c for c in Affiliate._meta.constraints if c.name == "affiliate_phone_e164")
    kept = [value for value in kept_phones() if value]
    assert len(kept) > 300 and all(mobile_valid(value) for value in kept)
    for value in kept[:150]:
        constraint.validate(Affiliate, Affiliate(phone=value, name="Ana"))


def fold_values() -> list[str]:
    """Names and cities as stored (name_normalize: odd blanks are spaces by then), state names, and
    every letter the SQL fold knows (crm.brazil.ACCENTED) beside ASCII ones."""
    fake = Faker("pt_BR")
    fake.seed_instance(22)
    letters = [*ACCENTED, *"abcxyzABCXYZ -'"]
    return [
        *(fake.name() for _ in range(300)),
        *(fake.city() for _ in range(100)),
        *(name_normalize(name) for name in UGLY["name"] if name_normalize(name)),
        *(name.upper() for name in STATES.values()),
        *letters,
        "".join(letters),
    ]


def test_the_sql_fold_is_the_rule(db):
    values = fold_values()
    sql = Folded.template % {"expressions": "v"}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT v, {sql} FROM unnest(%s::text[]) AS t(v)", [values])  # noqa: S608
        in_sql = dict(cursor.fetchall())
    assert {value: fold(value) for value in values} == in_sql
    assert strip_accents(ACCENTED) == PLAIN
    assert [fold_text(value) for value in values] == [fold(value) for value in values]  # the search's side


def test_the_polars_fold_is_the_rule():
    values = [value.strip() for value in fold_values()]
    folded = pl.DataFrame({"s": values}).select(_fold_expr(pl.col("s"))).to_series().to_list()
    assert folded == [_fold(value) for value in values]
    assert all(" ".join(fold(value).split()) == _fold(value) for value in values)


def test_every_state_has_a_real_time_zone_and_the_polars_one_is_the_rule():
    assert STATE_TIME_ZONES.keys() == STATES.keys()
    assert all(ZoneInfo(zone) for zone in STATE_TIME_ZONES.values())
    names = [*STATES, *STATES.values()]
    out = frame_normalize(pl.DataFrame({"name": ["Ana"] * len(names), "state": names}), today=TODAY)
    assert out["time_zone"].to_list() == [STATE_TIME_ZONES[state_normalize(name)] for name in names]
