"""{% consent_states affiliate as states %}: each channel of crm.channels with the affiliate's
current consent on it, in registry order (the list's icons, the profile's badges)."""

from __future__ import annotations

from typing import Any

from django import template

from crm.channels import CHANNELS, ChannelSpec

register = template.Library()


@register.simple_tag
def consent_states(affiliate: Any) -> list[tuple[ChannelSpec, bool]]:
    return [(channel, bool(getattr(affiliate, channel.consent_field))) for channel in CHANNELS]
