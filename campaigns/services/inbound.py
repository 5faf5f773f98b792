"""Messages affiliates send us (WhatsApp and SMS replies, Telegram messages), as the provider
hooks (campaigns.views.hooks) hand them in.

Each is stored once (InboundMessage, by the provider's id: a repeated webhook changes nothing) with
the affiliate its address belongs to. It opens WhatsApp's 24-hour customer-service window (the
guards read the newest InboundMessage), puts `message_replied` on the timeline of the message it
answers, and when it says only SAIR, PARAR, STOP or CANCELAR (any case, accents, spaces and
punctuation around ignored) it revokes that channel's consent at once through the consent ledger
(source "reply", the text as proof).

Telegram chats are linked to affiliates by a signed code: the UDN sends the affiliate a link
`https://t.me/<bot>?start=<code>`; pressing Start sends "/start <code>", which binds the chat id to
the affiliate and records the Telegram consent that pressing Start gives.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from campaigns.models import InboundMessage, Message
from campaigns.services.statuses import EVENT_SOURCE, REPLIED_EVENT_TYPE, StatusUpdate, message_statuses_apply
from crm.brazil import fold
from crm.channels import channel_get
from crm.models import Affiliate, AffiliateChange
from crm.normalize import NormalizationError, phone_normalize
from crm.services.consent import consent_change
from crm.services.events import EventInput, events_ingest

OPT_OUT_WORDS = frozenset({"sair", "parar", "stop", "cancelar"})
CONSENT_SOURCE = "reply"
TELEGRAM_START_SOURCE = "telegram_start"
PROOF_MAX = 500
# Punctuation, symbols and spaces around the word ("Sair.", " PARAR!! ", "*stop*").
_AROUND = re.compile(r"^[\W_]+|[\W_]+$")
_LINK_SALT = "campaigns.telegram.link"
_LINK_CODE = re.compile(r"([0-9]{1,19})-([0-9a-f]{24})")


@dataclass(frozen=True, slots=True)
class InboundInput:
    channel: str
    from_address: str
    text: str
    provider_message_id: str
    received_at: datetime


def is_opt_out(text: str) -> bool:
    """Whether a reply asks to stop: one of OPT_OUT_WORDS alone, in any case, with or without
    accents, with spaces and punctuation around it."""
    return _AROUND.sub("", fold(text.strip())) in OPT_OUT_WORDS


def _address_key(channel: str, address: str) -> str:
    """The address as the affiliate's field holds it; "" when it cannot be one."""
    spec = channel_get(channel)
    if spec.address_field == "phone":
        try:
            return phone_normalize(address if address.startswith("+") else f"+{address}")
        except NormalizationError:
            return ""
    if spec.address_field == "email":
        return address.strip().lower()
    return address.strip()


def _affiliates_by_address(channel: str, keys: set[str]) -> dict[str, list[int]]:
    """{address: the ids of the affiliates it belongs to, oldest first}."""
    field = channel_get(channel).address_field
    keys.discard("")
    if field is None or not keys:
        return {}
    lookup = f"{field}__iexact" if field == "email" else f"{field}__in"
    queryset = Affiliate.objects.order_by("pk")
    if field == "email":
        rows = [
            row
            for key in keys
            for row in queryset.filter(**{lookup: key}).values_list("pk", field)  # few keys a request
        ]
    else:
        rows = list(queryset.filter(**{lookup: keys}).values_list("pk", field))
    found: dict[str, list[int]] = {}
    for pk, value in rows:
        found.setdefault(value.lower() if field == "email" else value, []).append(pk)
    return found


@transaction.atomic
def inbound_receive(*, items: Sequence[InboundInput]) -> list[InboundMessage]:
    """Store the items not stored before and act on them (see the module doc); returns the new
    rows. Items of several channels may come together."""
    now = timezone.now()
    known = set(
        InboundMessage.objects.filter(
            provider_message_id__in=[item.provider_message_id for item in items]
        ).values_list("provider_message_id", flat=True)
    )
    fresh: dict[str, InboundInput] = {}
    for item in items:
        if item.provider_message_id not in known:
            fresh.setdefault(item.provider_message_id, item)
    if not fresh:
        return []
    keys = {pid: _address_key(item.channel, item.from_address) for pid, item in fresh.items()}
    owners: dict[str, list[int]] = {}
    for channel in {item.channel for item in fresh.values()}:
        found = _affiliates_by_address(
            channel, {keys[pid] for pid, item in fresh.items() if item.channel == channel}
        )
        for pid, item in fresh.items():
            if item.channel == channel:
                owners[pid] = found.get(keys[pid], [])
    rows = [
        InboundMessage(
            channel=item.channel,
            affiliate_id=owners[pid][0] if owners[pid] else None,
            from_address=item.from_address[:200],
            text=item.text,
            provider_message_id=pid,
            received_at=min(item.received_at, now),
            opt_out=is_opt_out(item.text),
        )
        for pid, item in fresh.items()
    ]
    InboundMessage.objects.bulk_create(rows, ignore_conflicts=True)
    stored = list(
        InboundMessage.objects.filter(provider_message_id__in=list(fresh)).order_by("received_at", "pk")
    )
    events: list[EventInput] = []
    for row in stored:
        affiliate_ids = owners.get(row.provider_message_id, [])
        if row.opt_out:
            # The person behind the address asked to stop: every affiliate with that address.
            for affiliate in Affiliate.objects.filter(pk__in=affiliate_ids).order_by("pk"):
                consent_change(
                    affiliate=affiliate,
                    channel=row.channel,
                    granted=False,
                    source=CONSENT_SOURCE,
                    proof=row.text[:PROOF_MAX],
                    occurred_at=row.received_at,
                )
        answered = _answered_message(affiliate_ids=affiliate_ids, channel=row.channel, before=row.received_at)
        if answered is not None:
            events.append(
                EventInput(
                    event_id=f"msg:{answered.pk}:replied",
                    type=REPLIED_EVENT_TYPE,
                    occurred_at=row.received_at,
                    affiliate_id=answered.affiliate_id,
                    source=EVENT_SOURCE,
                    properties={
                        "message_id": answered.pk,
                        "channel": row.channel,
                        "inbound_id": row.pk,
                        "opt_out": row.opt_out,
                    },
                )
            )
    if events:
        events_ingest(items=events, source=EVENT_SOURCE)
    return stored


def _answered_message(*, affiliate_ids: list[int], channel: str, before: datetime) -> Message | None:
    """The newest message we sent to one of `affiliate_ids` on `channel` before `before`."""
    if not affiliate_ids:
        return None
    return (
        Message.objects.filter(
            affiliate_id__in=affiliate_ids, channel=channel, sent_at__isnull=False, sent_at__lte=before
        )
        .order_by("-sent_at", "-pk")
        .first()
    )


# --- Telegram: linking a chat to an affiliate --------------------------------------------------


def _link_mac(affiliate_id: int) -> str:
    schema = getattr(connection, "schema_name", "")
    return salted_hmac(_LINK_SALT, f"{schema}:{affiliate_id}", algorithm="sha256").hexdigest()[:24]


def telegram_link_code(*, affiliate_id: int) -> str:
    """The `start` parameter of the bot link sent to an affiliate (Telegram takes up to 64 of
    A-Z, a-z, 0-9, _ and -): the affiliate's id and a MAC of this UDN."""
    return f"{affiliate_id}-{_link_mac(affiliate_id)}"


def telegram_link_affiliate_id(code: str) -> int | None:
    """The affiliate a link code names, or None when it was not made here."""
    match = _LINK_CODE.fullmatch(code.strip())
    if match is None:
        return None
    affiliate_id = int(match.group(1))
    if not hmac.compare_digest(match.group(2), _link_mac(affiliate_id)):
        return None
    return affiliate_id


@transaction.atomic
def telegram_chat_link(*, code: str, chat_id: str, received_at: datetime) -> Affiliate | None:
    """Bind `chat_id` to the affiliate of `code` and record the Telegram consent pressing Start
    gave; None (and nothing changed) for a code not made here or an affiliate that is gone."""
    affiliate_id = telegram_link_affiliate_id(code)
    if affiliate_id is None:
        return None
    affiliate = Affiliate.objects.select_for_update(no_key=True).filter(pk=affiliate_id).first()
    if affiliate is None:
        return None
    if affiliate.telegram_chat_id != chat_id:
        old = affiliate.telegram_chat_id
        affiliate.telegram_chat_id = chat_id
        affiliate.updated_at = timezone.now()
        Affiliate.objects.filter(pk=affiliate.pk).update(
            telegram_chat_id=chat_id, updated_at=affiliate.updated_at
        )
        AffiliateChange.objects.create(
            affiliate=affiliate, changes={"telegram_chat_id": [old, chat_id]}, source=TELEGRAM_START_SOURCE
        )
    if not getattr(affiliate, channel_get("telegram").consent_field):
        consent_change(
            affiliate=affiliate,
            channel="telegram",
            granted=True,
            source=TELEGRAM_START_SOURCE,
            proof="/start",
            occurred_at=min(received_at, timezone.now()),
        )
    return affiliate


@dataclass(frozen=True, slots=True)
class TelegramStart:
    code: str
    chat_id: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class HookReport:
    """What one provider call told us: statuses of our messages, messages to us, chats to link."""

    statuses: Sequence[StatusUpdate] = ()
    inbound: Sequence[InboundInput] = ()
    telegram_starts: Sequence[TelegramStart] = ()


@transaction.atomic
def hook_report_apply(*, report: HookReport) -> dict[str, int]:
    """Apply a provider hook's call in one transaction; returns what was new (a repeated call:
    all zero)."""
    linked = sum(
        telegram_chat_link(code=start.code, chat_id=start.chat_id, received_at=start.received_at) is not None
        for start in report.telegram_starts
    )
    return {
        "statuses": message_statuses_apply(updates=report.statuses) if report.statuses else 0,
        "inbound": len(inbound_receive(items=report.inbound)) if report.inbound else 0,
        "linked": linked,
    }
