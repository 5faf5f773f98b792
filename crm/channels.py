"""The channels an affiliate can be reached on: the one registry.

Everything that lists channels derives from `CHANNELS`: the affiliate's consent fields
(`consent_<code>`, contributed to crm.models.Affiliate), the consent ledger's choices
(`crm.models.Channel`), the consent service, the list filter and the profile, the quality figures,
the demo base, the lake export, the API and the CSV/XLSX export. Adding a channel is one entry
here plus the migration that adds its consent field (and its address field, when it needs a new
one) and updates the ledger's choices; `crm/tests/test_channels.py` checks every consumer shows
each channel. Codes are stable: they are stored in the ledger and partners send them.

Plain data, importing nothing of the CRM, so crm.models can build on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """One channel: its code, what people read, where its messages go and its icon."""

    code: str
    label: StrOrPromise
    # The verbose name of the affiliate's consent field (a column header in exports).
    consent_label: StrOrPromise
    # The Affiliate field holding the address a message goes to; None when the CRM holds none
    # (push: the app keeps its devices' tokens).
    address_field: str | None
    # A Lucide icon of static/icons/sprite.svg.
    icon: str

    @property
    def consent_field(self) -> str:
        """The affiliate's current consent on this channel (a boolean field)."""
        return f"consent_{self.code}"


CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec("email", _("E-mail"), _("e-mail consent"), "email", "mail"),
    ChannelSpec("whatsapp", _("WhatsApp"), _("WhatsApp consent"), "phone", "message-circle"),
    ChannelSpec("sms", _("SMS"), _("SMS consent"), "phone", "smartphone"),
    ChannelSpec("push", _("Push"), _("push consent"), None, "bell"),
    ChannelSpec("telegram", _("Telegram"), _("Telegram consent"), "telegram_chat_id", "send"),
)

CHANNEL_CODES: tuple[str, ...] = tuple(channel.code for channel in CHANNELS)
#: {code: the affiliate's consent field}, in registry order.
CONSENT_FIELDS: dict[str, str] = {channel.code: channel.consent_field for channel in CHANNELS}
BY_CODE: dict[str, ChannelSpec] = {channel.code: channel for channel in CHANNELS}
#: (code, label) pairs in registry order: the choices of every model field and form that names a channel.
CHANNEL_CHOICES: list[tuple[str, StrOrPromise]] = [(channel.code, channel.label) for channel in CHANNELS]


def channel_get(code: str) -> ChannelSpec:
    """The channel of a code; KeyError for an unknown one."""
    return BY_CODE[code]
