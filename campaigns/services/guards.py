"""The guards that do not depend on the clock of the send: may this affiliate be written to on
this channel at all? Consent (LGPD), a global opt-out, an address, the channel enabled for the UDN,
and WhatsApp free text only inside the 24-hour customer-service window.

Two forms of one rule, tested value by value against each other (campaigns/tests/test_guards.py):
- `guard_static(affiliate=..., channel=...)`: the reason (a `SuppressionReason`) or None, for one
  affiliate (the outbox, the partner API, a journey step);
- `guard_static_sql(channel)`: the same as a SQL expression over `crm_affiliate a` giving the
  reason's code or NULL, for set-based fan-out (`WHERE (...) IS NULL` keeps those who pass,
  `CASE`/`GROUP BY` on it counts the suppressed by reason).

The checks run in this order and the first that refuses is the reason: channel disabled, opted
out, no consent, no address, outside the window.

A global opt-out: the CRM keeps consent per channel only (the ledger, crm.services.consent), so
an affiliate has opted out of all messages when no channel's consent stands and the ledger holds
a revocation (a person who never consented to anything has `no_consent`, not `opted_out`). A
global opt-out can never let a message through that consent would refuse: it only names the
reason better.

The time-dependent guards (frequency caps, quiet hours, the cross-UDN pressure budget) are
applied at send time by campaigns.services.sender.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, models
from django.utils import timezone

from campaigns.models import ChannelConfig, InboundMessage, MessageTemplate, SuppressionReason
from crm.channels import CHANNELS, channel_get
from crm.models import Affiliate, ConsentChange

# WhatsApp's customer-service window: free text only this long after the affiliate last wrote.
WHATSAPP_WINDOW = timedelta(hours=24)
WHATSAPP = "whatsapp"


def template_is_free_text(template: MessageTemplate | None) -> bool:
    """A WhatsApp template with no approved template name is free text (window only)."""
    return template is not None and template.channel == WHATSAPP and not template.wa_template_name


def channel_enabled(channel: str) -> bool:
    """The UDN sends on `channel` unless its settings say it is disabled (no row: enabled)."""
    return not ChannelConfig.objects.filter(channel=channel, enabled=False).exists()


def channels_disabled() -> frozenset[str]:
    """The channels this UDN's settings disable."""
    return frozenset(ChannelConfig.objects.filter(enabled=False).values_list("channel", flat=True))


# Push has no address field (crm.channels): the app reports its device's token as this custom
# attribute (campaigns.templating addresses push messages to it).
PUSH_TOKEN_ATTRIBUTE = "push_token"  # noqa: S105 - an attribute name, not a secret


def affiliate_address(*, affiliate: Affiliate, channel: str) -> str:
    """Where a message on `channel` goes ("" when nowhere): the affiliate's address field, or for
    push the device token the app reported (custom attribute `push_token`)."""
    field = channel_get(channel).address_field
    if field is None:
        return str((affiliate.attributes or {}).get(PUSH_TOKEN_ATTRIBUTE) or "")
    return str(getattr(affiliate, field) or "")


def _opted_out(affiliate: Affiliate) -> bool:
    if any(getattr(affiliate, spec.consent_field) for spec in CHANNELS):
        return False
    return ConsentChange.objects.filter(affiliate_id=affiliate.pk, granted=False).exists()


def whatsapp_window_open(*, affiliate: Affiliate, now: datetime) -> bool:
    """Whether the affiliate wrote to us on WhatsApp in the last 24 hours."""
    return InboundMessage.objects.filter(
        affiliate_id=affiliate.pk, channel=WHATSAPP, received_at__gt=now - WHATSAPP_WINDOW
    ).exists()


def guard_static(
    *,
    affiliate: Affiliate,
    channel: str,
    template: MessageTemplate | None = None,
    now: datetime | None = None,
    disabled_channels: frozenset[str] | None = None,
) -> SuppressionReason | None:
    """Why `affiliate` may not get a message on `channel` (with `template`, which matters for
    WhatsApp free text), or None when it may. A caller judging many messages at once passes the
    UDN's `disabled_channels` (`channels_disabled()`), read once."""
    spec = channel_get(channel)
    if not (channel_enabled(channel) if disabled_channels is None else channel not in disabled_channels):
        return SuppressionReason.CHANNEL_DISABLED
    if not getattr(affiliate, spec.consent_field):
        return SuppressionReason.OPTED_OUT if _opted_out(affiliate) else SuppressionReason.NO_CONSENT
    if not affiliate_address(affiliate=affiliate, channel=channel):
        return SuppressionReason.NO_ADDRESS
    if (
        channel == WHATSAPP
        and template_is_free_text(template)
        and not whatsapp_window_open(affiliate=affiliate, now=now or timezone.now())
    ):
        return SuppressionReason.OUTSIDE_WINDOW
    return None


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def guard_static_sql(channel: str, *, free_text: bool = False, now: datetime | None = None) -> str:
    """`guard_static` as a SQL expression over `crm_affiliate a` (alias `a`) in the current UDN's
    schema: the reason's code (text), or NULL when the affiliate may be written to. `free_text`
    adds WhatsApp's window check at `now` (default: the app's clock now)."""
    spec = channel_get(channel)  # KeyError for an unknown channel: nothing below is user input
    q = connection.ops.quote_name
    consent = f"a.{q(spec.consent_field)}"
    any_consent = " OR ".join(f"a.{q(c.consent_field)}" for c in CHANNELS)
    if spec.address_field is None:
        address = f"COALESCE(a.{q('attributes')} ->> {_literal(PUSH_TOKEN_ATTRIBUTE)}, '') <> ''"
    else:
        address = f"COALESCE(a.{q(spec.address_field)}, '') <> ''"
    # Table and column names come from the models, values are quoted literals of this module.
    branches = [
        (
            f"EXISTS (SELECT 1 FROM {_table(ChannelConfig)} cc"  # noqa: S608
            f" WHERE cc.channel = {_literal(channel)} AND NOT cc.enabled)",
            SuppressionReason.CHANNEL_DISABLED,
        ),
        (
            f"NOT {consent} AND NOT ({any_consent}) AND EXISTS (SELECT 1 FROM {_table(ConsentChange)} ccg"  # noqa: S608
            " WHERE ccg.affiliate_id = a.id AND NOT ccg.granted)",
            SuppressionReason.OPTED_OUT,
        ),
        (f"NOT {consent}", SuppressionReason.NO_CONSENT),
        (f"NOT ({address})", SuppressionReason.NO_ADDRESS),
    ]
    if free_text and channel == WHATSAPP:
        since = (now or timezone.now()) - WHATSAPP_WINDOW
        branches.append(
            (
                f"NOT EXISTS (SELECT 1 FROM {_table(InboundMessage)} im WHERE im.affiliate_id = a.id"  # noqa: S608
                f" AND im.channel = {_literal(WHATSAPP)}"
                f" AND im.received_at > {_literal(since.isoformat())}::timestamptz)",
                SuppressionReason.OUTSIDE_WINDOW,
            )
        )
    whens = " ".join(f"WHEN {condition} THEN {_literal(reason.value)}" for condition, reason in branches)
    return f"(CASE {whens} ELSE NULL END)"
