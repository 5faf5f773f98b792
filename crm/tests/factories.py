"""factory_boy factories for the CRM's rows, with Brazilian data (Faker "pt_BR").

Rows are made in the current schema: call them inside `tenant_context(udn)` (one of the two
session UDNs, alpha and beta). Values go in as the product stores them, through crm.normalize
(the one definition): CPFs as 11 digits, mobiles in E.164 ("+55 DDD 9xxxx-xxxx"), states as UF
codes with their time zone. Rows that carry a secret (API keys, webhook subscriptions) are made
by their services, the only code that knows how the secret is kept.

`AffiliateFactory(bare=True)` leaves every optional field blank, for tests that count what is
missing (data quality) or must not meet a stray match (search, filters).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import factory
from django.core.files.base import ContentFile
from factory.django import DjangoModelFactory

from crm.models import (
    Affiliate,
    ApiKey,
    ApiScope,
    ConsentChange,
    DepositTier,
    Event,
    EventKind,
    ImportJob,
    ImportStatus,
    QualitySnapshot,
    RejectedRow,
    WebhookEvent,
    WebhookSubscription,
)
from crm.normalize import cpf_normalize, phone_normalize, state_time_zone
from crm.services.api_keys import api_key_create
from crm.services.webhooks import webhook_subscription_create

LOCALE = "pt_BR"

# (city, UF, DDD): capitals and large cities, so that city, state, time zone and phone agree.
PLACES: tuple[tuple[str, str, str], ...] = (
    ("São Paulo", "SP", "11"),
    ("Campinas", "SP", "19"),
    ("Ribeirão Preto", "SP", "16"),
    ("Rio de Janeiro", "RJ", "21"),
    ("Niterói", "RJ", "21"),
    ("Belo Horizonte", "MG", "31"),
    ("Uberlândia", "MG", "34"),
    ("Vitória", "ES", "27"),
    ("Curitiba", "PR", "41"),
    ("Londrina", "PR", "43"),
    ("Florianópolis", "SC", "48"),
    ("Joinville", "SC", "47"),
    ("Porto Alegre", "RS", "51"),
    ("Caxias do Sul", "RS", "54"),
    ("Brasília", "DF", "61"),
    ("Goiânia", "GO", "62"),
    ("Cuiabá", "MT", "65"),
    ("Campo Grande", "MS", "67"),
    ("Salvador", "BA", "71"),
    ("Feira de Santana", "BA", "75"),
    ("Aracaju", "SE", "79"),
    ("Recife", "PE", "81"),
    ("Maceió", "AL", "82"),
    ("João Pessoa", "PB", "83"),
    ("Natal", "RN", "84"),
    ("Fortaleza", "CE", "85"),
    ("Teresina", "PI", "86"),
    ("São Luís", "MA", "98"),
    ("Belém", "PA", "91"),
    ("Manaus", "AM", "92"),
    ("Macapá", "AP", "96"),
    ("Boa Vista", "RR", "95"),
    ("Porto Velho", "RO", "69"),
    ("Rio Branco", "AC", "68"),
    ("Palmas", "TO", "63"),
)


def fake(provider: str, **kwargs) -> factory.Faker:
    """A Faker declaration in Brazilian Portuguese."""
    return factory.Faker(provider, locale=LOCALE, **kwargs)


def mobile_e164(*, ddd: str, number: str) -> str:
    """A Brazilian mobile in E.164 from its DDD and its 9 digits ("9xxxx-xxxx")."""
    return phone_normalize(f"({ddd}) {number[:5]}-{number[5:]}")


class AffiliateFactory(DjangoModelFactory[Affiliate]):
    class Meta:
        model = Affiliate

    class Params:
        place = fake("random_element", elements=PLACES)
        first_name = fake("first_name")
        last_name = fake("last_name")
        formatted_cpf = fake("cpf")  # "123.456.789-09", check digits valid
        mobile = fake("numerify", text="9%#######")  # % is 1-9: "9 1234-5678" and up, all mobiles
        bare = factory.Trait(cpf="", email="", phone="", birth_date=None, city="", state="", time_zone="")

    external_id = factory.Sequence(lambda n: f"F-{n:06d}")
    name = factory.LazyAttribute(lambda o: f"{o.first_name} {o.last_name}")
    cpf = factory.LazyAttribute(lambda o: cpf_normalize(o.formatted_cpf))
    email = fake("free_email")
    phone = factory.LazyAttribute(lambda o: mobile_e164(ddd=o.place[2], number=o.mobile))
    birth_date = fake("date_of_birth", minimum_age=18, maximum_age=80)
    city = factory.LazyAttribute(lambda o: o.place[0])
    state = factory.LazyAttribute(lambda o: o.place[1])
    time_zone = factory.LazyAttribute(lambda o: state_time_zone(o.state))


class EventKindFactory(DjangoModelFactory[EventKind]):
    class Meta:
        model = EventKind
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"kind_{n}")
    label = factory.LazyAttribute(lambda o: o.code.replace("_", " ").capitalize())


class EventFactory(DjangoModelFactory[Event]):
    class Meta:
        model = Event

    event_id = factory.LazyFunction(lambda: f"ev-{uuid.uuid4()}")
    affiliate = factory.SubFactory(AffiliateFactory)
    type = "cash_in"
    occurred_at = factory.LazyFunction(lambda: datetime.now(UTC))


class ConsentChangeFactory(DjangoModelFactory[ConsentChange]):
    """A ledger row only: the affiliate's current consent is set by crm.services.consent."""

    class Meta:
        model = ConsentChange

    affiliate = factory.SubFactory(AffiliateFactory)
    channel = "email"
    granted = True
    occurred_at = factory.LazyFunction(lambda: datetime.now(UTC))
    source = "form"


class DepositTierFactory(DjangoModelFactory[DepositTier]):
    class Meta:
        model = DepositTier
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Faixa {n}")
    min_total = Decimal("0.00")


class ImportJobFactory(DjangoModelFactory[ImportJob]):
    """An uploaded (not yet mapped) import of a small CSV file."""

    class Meta:
        model = ImportJob

    file = factory.LazyFunction(lambda: ContentFile(b"nome;cpf\n", name="afiliados.csv"))
    original_name = "afiliados.csv"
    status = ImportStatus.UPLOADED
    created_by = fake("free_email")


class RejectedRowFactory(DjangoModelFactory[RejectedRow]):
    class Meta:
        model = RejectedRow

    job = factory.SubFactory(ImportJobFactory)
    row_number = factory.Sequence(lambda n: n + 2)  # row 1 is the header
    reasons = factory.LazyFunction(lambda: ["cpf_invalid"])
    data = factory.LazyFunction(dict)


class QualitySnapshotFactory(DjangoModelFactory[QualitySnapshot]):
    class Meta:
        model = QualitySnapshot
        django_get_or_create = ("day",)

    day = factory.LazyFunction(lambda: datetime.now(UTC).date())
    figures = factory.LazyFunction(dict)


class ApiKeyFactory(factory.Factory[ApiKey]):
    """An API key made by `api_key_create`; the key in clear (shown once) is its `.token`."""

    class Meta:
        model = ApiKey

    name = "App backend"
    scopes = factory.LazyFunction(lambda: [ApiScope.AFFILIATES_READ.value, ApiScope.EVENTS_WRITE.value])
    created_by = "admin@alpha.test"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        api_key, token = api_key_create(**kwargs)
        api_key.token = token
        return api_key


class WebhookSubscriptionFactory(factory.Factory[WebhookSubscription]):
    """A subscription made by `webhook_subscription_create` (which draws the signing secret)."""

    class Meta:
        model = WebhookSubscription

    url = "https://hooks.partner.test/udn"
    events = factory.LazyFunction(lambda: [WebhookEvent.AFFILIATE_STAGE_CHANGED.value])
    created_by = "marina@alpha.test"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return webhook_subscription_create(**kwargs)
