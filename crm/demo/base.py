"""A believable demo base for one UDN: Brazilian affiliates with valid CPFs and mobile
phones, real cities, plans, origins, consent with its ledger, and ~180 days of event
history forming the app funnel (lead → registration → account → download → activation →
cash in → cashback / cashout, plus consultations and support tickets).

Generated column-wise with numpy from one seed (the same seed and `now` give the same
base; names come from Faker's pt_BR lists), written with COPY. CPFs, phones and time zones
follow crm.brazil; stages and tiers are derived from the generated events by crm.lifecycle
(`derive_arrays`) and consent state as the ledger says, and then checked by the services that
own those rules (`affiliates_refresh_derived`, the consent ledger refresh), which would correct
any drift.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone
from faker import Faker

from crm import channels as channel_registry
from crm.brazil import STATE_TIME_ZONES, cpf_check_digit, fold
from crm.lifecycle import derive_arrays
from crm.models import STAGE_ORDER, Affiliate, DepositTier, Event, EventType, Origin
from crm.services.consent import ConsentInput, consent_bulk_record
from crm.services.events import affiliates_refresh_derived

HISTORY_DAYS = 180


@dataclass(frozen=True)
class City:
    name: str
    state: str
    ddd: int
    weight: int  # roughly the metro population, in hundreds of thousands


CITIES: list[City] = [
    # Sudeste
    City("São Paulo", "SP", 11, 120),
    City("Guarulhos", "SP", 11, 13),
    City("Campinas", "SP", 19, 12),
    City("Santos", "SP", 13, 4),
    City("São José dos Campos", "SP", 12, 7),
    City("Ribeirão Preto", "SP", 16, 7),
    City("Sorocaba", "SP", 15, 7),
    City("Rio de Janeiro", "RJ", 21, 67),
    City("Niterói", "RJ", 21, 5),
    City("Duque de Caxias", "RJ", 21, 9),
    City("Petrópolis", "RJ", 24, 3),
    City("Belo Horizonte", "MG", 31, 25),
    City("Contagem", "MG", 31, 6),
    City("Uberlândia", "MG", 34, 7),
    City("Juiz de Fora", "MG", 32, 6),
    City("Montes Claros", "MG", 38, 4),
    City("Vitória", "ES", 27, 4),
    City("Vila Velha", "ES", 27, 5),
    # Sul
    City("Curitiba", "PR", 41, 19),
    City("Londrina", "PR", 43, 6),
    City("Maringá", "PR", 44, 4),
    City("Porto Alegre", "RS", 51, 14),
    City("Caxias do Sul", "RS", 54, 5),
    City("Florianópolis", "SC", 48, 5),
    City("Joinville", "SC", 47, 6),
    # Nordeste
    City("Salvador", "BA", 71, 24),
    City("Feira de Santana", "BA", 75, 6),
    City("Recife", "PE", 81, 15),
    City("Caruaru", "PE", 81, 4),
    City("Petrolina", "PE", 87, 4),
    City("Fortaleza", "CE", 85, 24),
    City("Juazeiro do Norte", "CE", 88, 3),
    City("São Luís", "MA", 98, 10),
    City("Teresina", "PI", 86, 9),
    City("Natal", "RN", 84, 8),
    City("João Pessoa", "PB", 83, 8),
    City("Campina Grande", "PB", 83, 4),
    City("Maceió", "AL", 82, 9),
    City("Aracaju", "SE", 79, 6),
    # Norte
    City("Manaus", "AM", 92, 20),
    City("Belém", "PA", 91, 13),
    City("Porto Velho", "RO", 69, 5),
    City("Palmas", "TO", 63, 3),
    City("Macapá", "AP", 96, 4),
    City("Boa Vista", "RR", 95, 4),
    City("Rio Branco", "AC", 68, 4),
    # Centro-Oeste
    City("Brasília", "DF", 61, 28),
    City("Goiânia", "GO", 62, 14),
    City("Campo Grande", "MS", 67, 9),
    City("Cuiabá", "MT", 65, 6),
]

REGION_STATES: dict[str, list[str]] = {
    "sudeste": ["SP", "RJ", "MG", "ES"],
    "sul": ["PR", "SC", "RS"],
    "nordeste": ["BA", "PE", "CE", "MA", "PI", "RN", "PB", "AL", "SE"],
    "norte": ["AM", "PA", "RO", "TO", "AP", "RR", "AC"],
    "centro-oeste": ["DF", "GO", "MS", "MT"],
}
HOME_SHARE = 0.85  # with home states given, this share of the base lives there

PLANS: list[tuple[str, Decimal, int]] = [  # name, monthly fee, weight
    ("Essencial", Decimal("39.90"), 45),
    ("Família", Decimal("89.90"), 30),
    ("Família Plus", Decimal("129.90"), 15),
    ("Empresarial", Decimal("54.90"), 10),
]
ORIGINS: list[tuple[str, int]] = [
    (Origin.STORE.value, 30),
    (Origin.SITE.value, 25),
    (Origin.WHATSAPP.value, 20),
    (Origin.PARTNER.value, 15),
    (Origin.REFERRAL.value, 10),
]
LEAD_SOURCE_BY_ORIGIN = {
    Origin.STORE.value: "loja",
    Origin.SITE.value: "site",
    Origin.WHATSAPP.value: "whatsapp",
    Origin.PARTNER.value: "parceiro",
    Origin.REFERRAL.value: "indicacao",
}
TAGS = ["newsletter", "black-friday", "aniversariante", "app-beta", "reativacao", "evento-saude"]
EMAIL_DOMAINS = [
    ("gmail.com", 50),
    ("hotmail.com", 18),
    ("outlook.com", 10),
    ("yahoo.com.br", 8),
    ("uol.com.br", 5),
    ("bol.com.br", 4),
    ("terra.com.br", 3),
    ("icloud.com", 2),
]
SPECIALTIES = [
    "cardiologia",
    "clínica geral",
    "dermatologia",
    "ginecologia",
    "pediatria",
    "odontologia",
    "oftalmologia",
]
TICKET_SUBJECTS = [
    "Não consigo acessar o app",
    "Código de verificação não chegou",
    "Dúvida sobre cashback",
    "Atualização de cadastro",
    "Problema no saque",
    "Cobrança da mensalidade",
]
TICKET_REASONS = [
    "senha redefinida",
    "código reenviado",
    "app reinstalado",
    "dúvida esclarecida",
    "cadastro corrigido",
    "estorno realizado",
]
CASHBACK_PARTNERS = [
    "Drogaria Popular",
    "Farmácia Saúde+",
    "Ótica Visão",
    "Laboratório Vida",
    "Clínica Bem-Estar",
]

LEAD_CAMPAIGNS = ["indique-e-ganhe", "feirao-saude", "google-ads", "instagram"]
# The utm_source a lead's campaign puts on its lead_created event (insights' attribution reads the
# events' utm_source/utm_campaign; a lead without a campaign stays "(sem origem)").
UTM_SOURCE_BY_CAMPAIGN = {
    "indique-e-ganhe": "indicacao",
    "feirao-saude": "evento",
    "google-ads": "google",
    "instagram": "instagram",
}
# The funnel, as the chance of each step given the one before (overall shares in comments).
P_REGISTRATION = 0.85  # 85 %
P_FORM = 0.92  # 78 %
P_ACCOUNT = 0.90  # 70 %
P_DOWNLOAD = 0.786  # 55 %
P_ACTIVATE = 0.764  # 42 %
P_CASH_IN = 0.714  # 30 %
P_CASHBACK = 0.60  # 18 %
P_CASHOUT = 0.30  # 9 %
P_CONSULTATION = 0.357  # 15 % (booked in the app, so among the activated)
P_TICKET = 0.114  # 8 % (among account holders)
P_TICKET_CLOSED = 0.90
DEPOSITS_PER_PERSON = [(1, 35), (2, 25), (3, 16), (4, 11), (5, 8), (6, 5)]
DEPOSIT_METHODS = [("pix", 75), ("boleto", 10), ("cartao", 15)]
# Consent at sign-up per channel, and the share of grants revoked later.
# Keyed by channel code (crm.channels); a channel left out here (Telegram: the demo people have no
# chat id) gets no grants, and draws nothing, so the rest of the base stays as it was.
P_CONSENT = {"email": 0.82, "whatsapp": 0.72, "sms": 0.35, "push": 0.65}
CONSENT_SOURCE = {
    "email": "cadastro",
    "whatsapp": "cadastro",
    "sms": "cadastro",
    "push": "app",
}
P_REVOKE = 0.05
CONSENT_PROOF = {
    "email": "Aceite no cadastro: receber comunicações por e-mail (termos v3)",
    "whatsapp": "Aceite no cadastro: receber mensagens no WhatsApp (termos v3)",
    "sms": "Aceite no cadastro: receber SMS (termos v3)",
    "push": "Permissão de notificações concedida no app",
}
OPT_OUT = {
    "email": ("descadastro", "Link de descadastro no rodapé do e-mail"),
    "whatsapp": ("whatsapp", "Resposta “SAIR” no WhatsApp"),
    "sms": ("sms", "Resposta “PARAR” por SMS"),
    "push": ("app", "Notificações desativadas nas configurações do app"),
}


DAY = 86_400
NULL = "\\N"
COPY_CHUNK = 5_000  # lines per write: few calls, bounded memory
AFFILIATE_COLUMNS = (
    "id, external_id, cpf, name, email, phone, birth_date, city, state, plan, plan_fee, origin,"
    " time_zone, tags, attributes, created_at, updated_at, stage, stage_changed_at, tier, total_cash_in, "
    + ", ".join(channel_registry.CONSENT_FIELDS.values())
)
EVENT_COLUMNS = "event_id, affiliate_id, type, occurred_at, source, amount, properties, received_at"


class DemoBaseError(Exception):
    pass


def _cpfs(rng: np.random.Generator, n: int) -> list[str]:
    """`n` distinct valid CPFs (check digits computed column-wise)."""
    found: list[str] = []
    seen: set[str] = set()
    while len(found) < n:
        bases = rng.integers(0, 10**9, size=n + 16, dtype=np.int64)
        digits = (bases[:, None] // 10 ** np.arange(8, -1, -1)) % 10  # (k, 9), most significant first
        columns = [digits[:, j] for j in range(9)]
        d1 = cpf_check_digit(columns)  # crm.brazil's rule, over columns
        d2 = cpf_check_digit([*columns, d1])
        repeated = (digits == digits[:, :1]).all(axis=1)  # 111.111.111-11 and friends are invalid
        for base, a, b, bad in zip(bases.tolist(), d1.tolist(), d2.tolist(), repeated.tolist(), strict=True):
            cpf = f"{base:09d}{a}{b}"
            if not bad and cpf not in seen:
                seen.add(cpf)
                found.append(cpf)
                if len(found) == n:
                    break
    return found


def _ascii(text: str) -> str:
    """A name as an e-mail address's part: folded (crm.brazil), without spaces, ASCII only."""
    return fold(text).encode("ascii", "ignore").decode().replace(" ", "")


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _iso(seconds: np.ndarray) -> list[str]:
    return np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s", timezone="UTC").tolist()


@dataclass
class _Draw:
    """The seeded generator and the few shapes of randomness the base needs."""

    rng: np.random.Generator
    n: int

    def chance(self, p: float, size: int | None = None) -> np.ndarray:
        return self.rng.random(self.n if size is None else size) < p

    def pick(self, options: int, size: int | None = None) -> np.ndarray:
        return self.rng.integers(0, options, self.n if size is None else size)

    def weighted(self, pairs: Sequence[tuple[Any, int]], size: int | None = None) -> np.ndarray:
        cumulative = np.cumsum([weight for _item, weight in pairs])
        draws = self.rng.random(self.n if size is None else size) * cumulative[-1]
        return np.searchsorted(cumulative, draws, side="right")

    def delay(self, median: float, sigma: float, size: int | None = None, cap_days: int = 30) -> np.ndarray:
        """Seconds, lognormal: most people are quick, a long tail takes days."""
        seconds = self.rng.lognormal(np.log(median), sigma, self.n if size is None else size)
        return np.clip(np.rint(seconds), 30, cap_days * DAY).astype(np.int64)

    def uniform(self, low: float, high: float, size: int | None = None) -> np.ndarray:
        return self.rng.uniform(low, high, self.n if size is None else size)


@dataclass
class _Events:
    """Events gathered type by type, as columns."""

    owner: list[np.ndarray] = field(default_factory=list)
    at: list[np.ndarray] = field(default_factory=list)
    kind: list[np.ndarray] = field(default_factory=list)
    cents: list[np.ndarray] = field(default_factory=list)
    source: list[str] = field(default_factory=list)
    props: list[str] = field(default_factory=list)

    def add(
        self,
        kind: str,
        owner: np.ndarray,
        at: np.ndarray,
        props: list[str],
        *,
        source: str | list[str],
        cents: np.ndarray | None = None,
    ) -> None:
        self.owner.append(owner)
        self.at.append(at)
        self.kind.append(np.full(len(owner), EVENT_KINDS.index(kind)))
        self.cents.append(np.full(len(owner), -1, dtype=np.int64) if cents is None else cents)
        self.source.extend([source] * len(owner) if isinstance(source, str) else source)
        self.props.extend(props)


# Sorting key for events at the same second: the funnel order.
EVENT_KINDS: list[str] = [
    EventType.LEAD_CREATED,
    EventType.REGISTRATION_STARTED,
    EventType.FORM_COMPLETED,
    EventType.ACCOUNT_OPENED,
    EventType.APP_DOWNLOADED,
    EventType.APP_ACTIVATED,
    EventType.CASH_IN,
    EventType.CASHBACK,
    EventType.CASHOUT,
    EventType.CONSULTATION_SCHEDULED,
    EventType.SUPPORT_TICKET_OPENED,
    EventType.SUPPORT_TICKET_CLOSED,
]
EVENT_KINDS = [str(kind) for kind in EVENT_KINDS]


@dataclass
class _Base:
    affiliates: list[str]  # COPY text lines
    events: list[str]
    consents: list[ConsentInput]
    events_by_type: dict[str, int]


def _build(
    *, ids: list[int], seed: int, now: datetime, home_states: Sequence[str], tiers: list[tuple[Decimal, str]]
) -> _Base:
    n = len(ids)
    draw = _Draw(np.random.default_rng(seed), n)
    fake = Faker("pt_BR")
    fake.seed_instance(seed)
    person: Any = fake.provider("faker.providers.person")
    companies = sorted({fake.company() for _ in range(150)})
    now_s = int(now.timestamp())
    everyone = np.arange(n)

    # --- who they are -------------------------------------------------------------------------
    female = draw.chance(0.53)
    females, males, lasts = person.first_names_female, person.first_names_male, person.last_names
    female_first, male_first = draw.pick(len(females)).tolist(), draw.pick(len(males)).tolist()
    last, middle, three_names = (
        draw.pick(len(lasts)).tolist(),
        draw.pick(len(lasts)).tolist(),
        draw.chance(0.55),
    )
    home = [i for i, city in enumerate(CITIES) if city.state in home_states]
    away = [i for i, city in enumerate(CITIES) if city.state not in home_states]
    home_pick = np.array(home or away)[draw.weighted([(i, CITIES[i].weight) for i in home or away])]
    away_pick = np.array(away or home)[draw.weighted([(i, CITIES[i].weight) for i in away or home])]
    city = np.where(draw.chance(HOME_SHARE if home and away else 1.0), home_pick, away_pick).tolist()
    origin = draw.weighted(ORIGINS).tolist()
    has_email, has_phone = draw.chance(0.95).tolist(), draw.chance(0.97).tolist()
    email_style, email_number, with_number = (
        draw.pick(4).tolist(),
        draw.pick(99).tolist(),
        draw.chance(0.6).tolist(),
    )
    email_domain = draw.weighted(EMAIL_DOMAINS).tolist()
    phone_4th, phone_rest = draw.pick(4).tolist(), draw.pick(10**7).tolist()
    age_days = (np.clip(draw.rng.normal(41, 13, n), 18, 85) * 365.25).astype(np.int64) + draw.pick(365)
    birth_dates = (np.datetime64(now.date(), "D") - age_days.astype("timedelta64[D]")).astype(str).tolist()
    tag_count, tag_a, tag_b = (
        draw.weighted([(0, 55), (1, 35), (2, 10)]),
        draw.pick(len(TAGS)),
        draw.pick(len(TAGS)),
    )
    plan = draw.weighted([(name, weight) for name, _fee, weight in PLANS]).tolist()
    dependents, company = (draw.pick(4) + 1).tolist(), draw.pick(len(companies)).tolist()
    cpfs = _cpfs(draw.rng, n)

    # --- the funnel: each step may happen, after a delay, if it is not in the future -------------
    events = _Events()
    created = now_s - draw.rng.integers(60, HISTORY_DAYS * DAY, n)
    campaign, with_campaign = draw.pick(len(LEAD_CAMPAIGNS)).tolist(), draw.chance(0.3).tolist()
    events.add(
        EventType.LEAD_CREATED,
        everyone,
        created,
        [
            f'{{"origin": "{ORIGINS[o][0]}"'
            + (
                f', "campaign": "{LEAD_CAMPAIGNS[c]}", "utm_source": "{UTM_SOURCE_BY_CAMPAIGN[LEAD_CAMPAIGNS[c]]}",'
                f' "utm_campaign": "{LEAD_CAMPAIGNS[c]}"'
                if w
                else ""
            )
            + "}"
            for o, c, w in zip(origin, campaign, with_campaign, strict=True)
        ],
        source=[LEAD_SOURCE_BY_ORIGIN[ORIGINS[o][0]] for o in origin],
    )

    def step(before: np.ndarray, after: np.ndarray, p: float, median: float, sigma: float):
        at = after + draw.delay(median, sigma)
        return before & draw.chance(p) & (at <= now_s), at

    channel = draw.pick(3)
    channels = np.array(["app", "site", "loja"])[channel].tolist()
    registered, t_reg = step(np.ones(n, dtype=bool), created, P_REGISTRATION, 1200, 1.6)
    formed, t_form = step(registered, t_reg, P_FORM, 480, 1.0)
    opened, t_account = step(formed, t_form, P_ACCOUNT, 1800, 1.5)
    for kind, mask, at in (
        (EventType.REGISTRATION_STARTED, registered, t_reg),
        (EventType.FORM_COMPLETED, formed, t_form),
    ):
        who = everyone[mask]
        events.add(
            kind, who, at[mask], [f'{{"channel": "{channels[i]}"}}' for i in who.tolist()], source="cadastro"
        )
    who = everyone[opened]
    events.add(
        EventType.ACCOUNT_OPENED,
        who,
        t_account[opened],
        [f'{{"channel": "{channels[i]}", "plan": "{PLANS[plan[i]][0]}"}}' for i in who.tolist()],
        source="cadastro",
    )
    android = draw.chance(0.72)
    platform = np.where(android, "android", "ios").tolist()
    downloaded, t_download = step(opened, t_account, P_DOWNLOAD, 6 * 3600, 1.8)
    activated, t_active = step(downloaded, t_download, P_ACTIVATE, 900, 1.6)
    for kind, mask, at in (
        (EventType.APP_DOWNLOADED, downloaded, t_download),
        (EventType.APP_ACTIVATED, activated, t_active),
    ):
        who = everyone[mask]
        events.add(
            kind, who, at[mask], [f'{{"platform": "{platform[i]}"}}' for i in who.tolist()], source="app"
        )

    # Deposits: 1-6 per depositor, the first days after activation, then every 2-30 days.
    depositing = activated & draw.chance(P_CASH_IN)
    planned = np.where(depositing, draw.weighted(DEPOSITS_PER_PERSON) + 1, 0)
    owner = np.repeat(everyone, planned)
    m = len(owner)
    starts = np.cumsum(planned) - planned
    seq = np.arange(m) - np.repeat(starts, planned)
    gaps = np.where(seq == 0, draw.delay(2 * DAY, 1.2, m), draw.rng.integers(2 * DAY, 30 * DAY, m))
    running = np.cumsum(gaps)
    at = t_active[owner] + running - np.repeat((running - gaps)[starts[planned > 0]], planned[planned > 0])
    large, value = draw.chance(0.03, m), np.clip(150 * np.exp(0.9 * draw.rng.normal(0, 1, m)), 20, 2000)
    rounded = np.maximum(20, np.rint(value / 10) * 10) * 100
    cents = np.where(
        large,
        np.rint(draw.uniform(2500, 12000, m) * 100),
        np.where(draw.chance(0.45, m), rounded, np.rint(value * 100)),
    ).astype(np.int64)
    method = draw.weighted(DEPOSIT_METHODS, m).tolist()
    kept = at <= now_s  # times grow within a person, so this keeps a prefix of their deposits
    events.add(
        EventType.CASH_IN,
        owner[kept],
        at[kept],
        [
            f'{{"amount": "{_money(c)}", "method": "{DEPOSIT_METHODS[k][0]}"}}'
            for c, k in zip(cents[kept].tolist(), np.array(method)[kept].tolist(), strict=True)
        ],
        source="pagamentos",
        cents=cents[kept],
    )
    deposits = np.bincount(owner[kept], minlength=n)
    total = np.bincount(owner[kept], weights=cents[kept], minlength=n).astype(np.int64)
    first_deposit = np.full(n, -1, dtype=np.int64)
    first_deposit[owner[kept & (seq == 0)]] = at[kept & (seq == 0)]

    # Cashback on the first one or two deposits; cashout of part of the balance.
    how_many = np.where(draw.chance(P_CASHBACK) & (deposits > 0), 1 + draw.chance(0.5), 0)
    chosen = kept & (seq < how_many[owner])
    back_at = at[chosen] + draw.delay(3 * DAY, 0.8, int(chosen.sum()))
    back = np.maximum(50, np.rint(cents[chosen] * draw.uniform(0.01, 0.05, int(chosen.sum())))).astype(
        np.int64
    )
    partner = draw.pick(len(CASHBACK_PARTNERS), int(chosen.sum()))
    ok = back_at <= now_s
    events.add(
        EventType.CASHBACK,
        owner[chosen][ok],
        back_at[ok],
        [
            f'{{"amount": "{_money(c)}", "partner": "{CASHBACK_PARTNERS[p]}"}}'
            for c, p in zip(back[ok].tolist(), partner[ok].tolist(), strict=True)
        ],
        source="pagamentos",
        cents=back[ok],
    )
    cashout_at = first_deposit + draw.delay(7 * DAY, 1.0, cap_days=60)
    cashed_out = (deposits > 0) & draw.chance(P_CASHOUT) & (cashout_at <= now_s)
    cashout = np.maximum(1000, np.rint(total * draw.uniform(0.2, 0.8))).astype(np.int64)
    events.add(
        EventType.CASHOUT,
        everyone[cashed_out],
        cashout_at[cashed_out],
        [f'{{"amount": "{_money(c)}", "method": "pix"}}' for c in cashout[cashed_out].tolist()],
        source="pagamentos",
        cents=cashout[cashed_out],
    )

    # Consultations booked in the app; support tickets, most of them closed with a reason.
    consult_at = t_active + draw.rng.integers(3600, 60 * DAY, n)
    consulting = activated & draw.chance(P_CONSULTATION) & (consult_at <= now_s)
    specialty = draw.pick(len(SPECIALTIES)).tolist()
    mode = np.where(draw.chance(0.6), "teleconsulta", "presencial").tolist()
    who = everyone[consulting]
    events.add(
        EventType.CONSULTATION_SCHEDULED,
        who,
        consult_at[consulting],
        [f'{{"specialty": "{SPECIALTIES[specialty[i]]}", "mode": "{mode[i]}"}}' for i in who.tolist()],
        source="agenda",
    )
    ticket_at = t_account + draw.delay(DAY, 1.3)
    ticketed = opened & draw.chance(P_TICKET) & (ticket_at <= now_s)
    closed_at = ticket_at + draw.delay(6 * 3600, 1.2)
    closed = ticketed & draw.chance(P_TICKET_CLOSED) & (closed_at <= now_s)
    subject, reason = draw.pick(len(TICKET_SUBJECTS)).tolist(), draw.pick(len(TICKET_REASONS)).tolist()
    who = everyone[ticketed]
    events.add(
        EventType.SUPPORT_TICKET_OPENED,
        who,
        ticket_at[ticketed],
        [
            f'{{"ticket_id": "SUP-{i + 1:06d}", "subject": "{TICKET_SUBJECTS[subject[i]]}"}}'
            for i in who.tolist()
        ],
        source="helpdesk",
    )
    who = everyone[closed]
    minutes = ((closed_at - ticket_at) // 60).tolist()
    events.add(
        EventType.SUPPORT_TICKET_CLOSED,
        who,
        closed_at[closed],
        [
            f'{{"ticket_id": "SUP-{i + 1:06d}", "reason": "{TICKET_REASONS[reason[i]]}",'
            f' "resolution_minutes": {minutes[i]}}}'
            for i in who.tolist()
        ],
        source="helpdesk",
    )

    # --- the events as columns, by person, then time, then funnel order -----------------------
    ev_owner = np.concatenate(events.owner)
    ev_at = np.concatenate(events.at)
    ev_kind = np.concatenate(events.kind)
    ev_cents = np.concatenate(events.cents)
    order = np.lexsort((ev_kind, ev_at, ev_owner))
    ev_owner, ev_at, ev_kind, ev_cents = ev_owner[order], ev_at[order], ev_kind[order], ev_cents[order]

    # --- derived fields, by crm.lifecycle (affiliates_refresh_derived checks them) --------------
    derived = derive_arrays(
        n=n, owner=ev_owner, kind=ev_kind, kinds=EVENT_KINDS, at=ev_at, cents=ev_cents, bands=tiers
    )
    rank = derived.rank.tolist()
    stage_at = [
        NULL if at < 0 else iso
        for at, iso in zip(derived.reached_at.tolist(), _iso(derived.reached_at), strict=True)
    ]
    totals = total.tolist()

    # --- consent: grants at sign-up (push when the app came), a few opt-outs later -------------
    consents: list[ConsentInput] = []
    state = {}
    # Who can be reached on a channel: by its address (push: whoever has the app).
    reachable = {"email": np.array(has_email), "phone": np.array(has_phone), None: downloaded}
    for spec in channel_registry.CHANNELS:
        channel_ = spec.code
        if channel_ not in P_CONSENT or spec.address_field not in reachable:
            state[channel_] = [False] * n
            continue
        via_app = spec.address_field is None
        granted_at = (t_download if via_app else created) + draw.rng.integers(5, 600, n)
        eligible = reachable[spec.address_field]
        granted = eligible & draw.chance(P_CONSENT[channel_]) & (granted_at <= now_s)
        revoked_at = (
            granted_at
            + 3600
            + (draw.rng.random(n) * np.maximum(1, now_s - granted_at - 3600)).astype(np.int64)
        )
        revoked = granted & draw.chance(P_REVOKE) & (revoked_at <= now_s)
        state[channel_] = (granted & ~revoked).tolist()
        for i, when in zip(everyone[granted].tolist(), granted_at[granted].tolist(), strict=True):
            consents.append(
                ConsentInput(
                    ids[i],
                    channel_,
                    True,
                    datetime.fromtimestamp(when, UTC),
                    source=CONSENT_SOURCE[channel_],
                    proof=CONSENT_PROOF[channel_],
                )
            )
        opt_source, proof = OPT_OUT[channel_]
        for i, when in zip(everyone[revoked].tolist(), revoked_at[revoked].tolist(), strict=True):
            consents.append(
                ConsentInput(
                    ids[i],
                    channel_,
                    False,
                    datetime.fromtimestamp(when, UTC),
                    source=opt_source,
                    proof=proof,
                )
            )

    # --- COPY lines ---------------------------------------------------------------------------
    created_iso, now_iso = _iso(created), now.isoformat()
    flag = {True: "t", False: "f"}
    affiliates = []
    for i in range(n):
        first = females[female_first[i]] if female[i] else males[male_first[i]]
        surname = lasts[last[i]]
        name = f"{first} {lasts[middle[i]]} {surname}" if three_names[i] else f"{first} {surname}"
        place = CITIES[city[i]]
        email = ""
        if has_email[i]:
            a, b = _ascii(first), _ascii(surname)
            local = (f"{a}.{b}", f"{a}{b}", f"{a}_{b}", f"{a[0]}{b}")[email_style[i]]
            number = str(email_number[i] + 1) if with_number[i] else ""
            email = f"{local}{number}@{EMAIL_DOMAINS[email_domain[i]][0]}"
        phone = f"+55{place.ddd}9{6 + phone_4th[i]}{phone_rest[i]:07d}" if has_phone[i] else ""
        plan_name, fee = (PLANS[plan[i]][0], str(PLANS[plan[i]][1])) if opened[i] else ("", NULL)
        tags = (
            sorted({TAGS[tag_a[i]], TAGS[tag_b[i]]})
            if tag_count[i] == 2
            else [TAGS[tag_a[i]]][: tag_count[i]]
        )
        if totals[i] >= 300_000:
            tags = sorted({*tags, "vip"})
        if plan_name.startswith("Família"):
            attributes = f'{{"dependents": {dependents[i]}}}'
        elif plan_name == "Empresarial":
            attributes = json.dumps({"company": companies[company[i]]}, ensure_ascii=False).replace(
                "\\", "\\\\"
            )
        else:
            attributes = "{}"
        affiliates.append(
            "\t".join(
                (
                    str(ids[i]),
                    f"AF{i + 1:07d}",
                    cpfs[i],
                    name,
                    email,
                    phone,
                    birth_dates[i],
                    place.name,
                    place.state,
                    plan_name,
                    fee,
                    ORIGINS[origin[i]][0],
                    STATE_TIME_ZONES[place.state],
                    "{" + ",".join(tags) + "}",
                    attributes,
                    created_iso[i],
                    now_iso,
                    STAGE_ORDER[rank[i]],
                    stage_at[i],
                    derived.tier[i],
                    _money(int(derived.total[i])),
                    *(flag[state[code][i]] for code in channel_registry.CONSENT_FIELDS),
                )
            )
            + "\n"
        )

    per_person = np.bincount(ev_owner, minlength=n)
    number = (
        np.arange(len(ev_owner)) - np.repeat(np.cumsum(per_person) - per_person, per_person) + 1
    ).tolist()
    received = np.minimum(now_s, ev_at + draw.rng.integers(1, 91, len(ev_at)))
    at_iso, received_iso = _iso(ev_at), _iso(received)
    sources, props = events.source, events.props
    original = order.tolist()
    lines = []
    rows = zip(ev_owner.tolist(), ev_kind.tolist(), ev_cents.tolist(), number, original, strict=True)
    for j, (o, k, c, seq_no, src) in enumerate(rows):
        amount = _money(c) if c >= 0 else NULL
        lines.append(
            f"demo-{o + 1:07d}-{seq_no:02d}\t{ids[o]}\t{EVENT_KINDS[k]}\t{at_iso[j]}"
            f"\t{sources[src]}\t{amount}\t{props[src]}\t{received_iso[j]}\n"
        )
    by_type = np.bincount(ev_kind, minlength=len(EVENT_KINDS)).tolist()
    return _Base(
        affiliates=affiliates,
        events=lines,
        consents=consents,
        events_by_type={EVENT_KINDS[k]: count for k, count in enumerate(by_type) if count},
    )


def _copy(sql: str, lines: list[str]) -> None:
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        for start in range(0, len(lines), COPY_CHUNK):
            copy.write("".join(lines[start : start + COPY_CHUNK]))


@transaction.atomic
def demo_base_load(
    *, size: int = 20_000, seed: int = 1, home_states: Sequence[str] = (), now: datetime | None = None
) -> dict[str, Any]:
    """Fill the current (empty) UDN with `size` demo affiliates and their histories. `home_states`
    (UFs) is where most of them live; `now` anchors the ~180 days of history. Deterministic
    for a given seed and `now`. Returns counts and how long each phase took."""
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(label: str) -> None:
        timings[label] = round(time.perf_counter() - started - sum(timings.values()), 2)

    if Affiliate.objects.exists():
        raise DemoBaseError("This UDN already has affiliates; the demo base goes into an empty one.")
    now = (now or timezone.now()).replace(microsecond=0)
    aff_table = connection.ops.quote_name(Affiliate._meta.db_table)
    event_table = connection.ops.quote_name(Event._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [Affiliate._meta.db_table, size],
        )
        ids = sorted(pk for (pk,) in cursor.fetchall())
    tiers = list(DepositTier.objects.order_by("min_total").values_list("min_total", "name"))
    base = _build(ids=ids, seed=seed, now=now, home_states=home_states, tiers=tiers)
    lap("build")

    _copy(f"COPY {aff_table} ({AFFILIATE_COLUMNS}) FROM STDIN", base.affiliates)
    lap("copy_affiliates")
    _copy(f"COPY {event_table} ({EVENT_COLUMNS}) FROM STDIN", base.events)
    lap("copy_events")
    consent_bulk_record(entries=base.consents)
    lap("consent")
    # The history is not news: no stage-change webhooks. Expected to change nothing (see above).
    derived = affiliates_refresh_derived(notify=False)
    lap("derive")

    return {
        "affiliates": len(base.affiliates),
        "events": len(base.events),
        "consent_changes": len(base.consents),
        "events_by_type": base.events_by_type,
        "derived_corrected": derived.changed,
        "seconds": round(time.perf_counter() - started, 2),
        "timings": timings,
    }


def demo_home_states(*, region: str) -> list[str]:
    """The UFs of a region ("sudeste", "nordeste", ...), for `demo_base_load(home_states=...)`."""
    return list(REGION_STATES.get(region, []))
