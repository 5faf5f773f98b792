"""The campaign form: reads what a person typed into a `CampaignDraft` (the service validates the
rules: audience, a template per channel of the chain, ranges)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, MessageTemplate
from campaigns.selectors.campaigns import campaign_segment_choices, goal_event_choices, templates_by_channel
from campaigns.services.campaigns import CampaignDraft
from crm.channels import CHANNEL_CHOICES, CHANNELS

#: Channels a chain may hold (the first, then fallbacks).
CHAIN_LENGTH = 3
SEND_NOW, SEND_LATER = "now", "later"


def _channel_choices(first: bool) -> list[tuple[str, Any]]:
    empty = _("Choose a channel") if first else _("None (no fallback)")
    return [("", empty), *CHANNEL_CHOICES]


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=160)
    audience_query = forms.CharField(
        label=_("Audience (filter of the affiliate list)"),
        required=False,
        max_length=2000,
        help_text=_("The affiliate list's filter; empty means every affiliate."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "state=SP&stage=cash_in"}),
    )
    segment = forms.TypedChoiceField(
        label=_("Saved segment"),
        required=False,
        coerce=int,
        empty_value=None,
        help_text=_(
            "The campaign goes to the segment's members that the list's filter also picks (an empty filter keeps the whole segment)."
        ),
    )
    priority = forms.IntegerField(label=_("Priority (1 to 10)"), min_value=1, max_value=10, initial=5)
    send_mode = forms.ChoiceField(
        label=_("When"),
        choices=[(SEND_NOW, _("Send now")), (SEND_LATER, _("Schedule"))],
        initial=SEND_NOW,
        widget=forms.RadioSelect,
    )
    send_at = forms.DateTimeField(
        label=_("Date and time"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    holdout_percent = forms.IntegerField(
        label=_("Holdout (% kept out as a control group)"), min_value=0, max_value=50, initial=0
    )
    goal_event = forms.ChoiceField(label=_("Goal event"), required=False)
    conversion_window_days = forms.IntegerField(
        label=_("Conversion window (days)"), min_value=1, max_value=90, initial=7
    )

    def __init__(self, *args: Any, time_zone: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.time_zone = ZoneInfo(time_zone)
        for n in range(1, CHAIN_LENGTH + 1):
            self.fields[f"channel_{n}"] = forms.ChoiceField(
                label=_("Channel %(n)s") % {"n": n}, choices=_channel_choices(n == 1), required=n == 1
            )
        self.fields["goal_event"].choices = [("", _("No goal")), *goal_event_choices()]  # type: ignore[attr-defined]
        segments = [("", _("None: the list's filter only")), *campaign_segment_choices()]
        self.fields["segment"].choices = segments  # type: ignore[attr-defined]
        grouped = templates_by_channel()
        for channel in CHANNELS:
            self.fields[f"template_{channel.code}"] = forms.ModelChoiceField(
                label=_("Template for %(channel)s") % {"channel": channel.label},
                queryset=MessageTemplate.objects.filter(channel=channel.code).order_by("name"),
                required=False,
                empty_label=_("Choose a template"),
            )
        self.templates_by_channel = grouped

    @property
    def chain_fields(self) -> list[forms.BoundField]:
        return [self[f"channel_{n}"] for n in range(1, CHAIN_LENGTH + 1)]

    @property
    def template_fields(self) -> list[tuple[str, forms.BoundField]]:
        return [(channel.code, self[f"template_{channel.code}"]) for channel in CHANNELS]

    def clean_send_at(self) -> datetime | None:
        value: datetime | None = self.cleaned_data.get("send_at")
        if value is None:
            return None
        # Typed in the UDN's time zone, whatever the server's.
        naive = timezone.make_naive(value) if timezone.is_aware(value) else value
        return naive.replace(tzinfo=self.time_zone)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("send_mode") == SEND_LATER and not data.get("send_at"):
            self.add_error("send_at", _("Choose the date and time to send."))
        return data

    def to_draft(self) -> CampaignDraft:
        data = self.cleaned_data
        chain = [data[f"channel_{n}"] for n in range(1, CHAIN_LENGTH + 1) if data.get(f"channel_{n}")]
        templates = {code: data[f"template_{code}"] for code in chain if data.get(f"template_{code}")}
        return CampaignDraft(
            name=data["name"],
            audience_query=data.get("audience_query") or "",
            channels=chain,
            templates=templates,
            priority=data["priority"],
            send_at=data.get("send_at") if data.get("send_mode") == SEND_LATER else None,
            holdout_percent=data["holdout_percent"],
            goal_event=data.get("goal_event") or "",
            conversion_window_days=data["conversion_window_days"],
            segment_id=data.get("segment"),
        )

    @classmethod
    def initial_of(cls, campaign: Campaign, *, time_zone: str) -> dict[str, Any]:
        """The form's values for an existing campaign."""
        initial: dict[str, Any] = {
            "name": campaign.name,
            "audience_query": campaign.audience_query,
            "priority": campaign.priority,
            "send_mode": SEND_LATER if campaign.send_at else SEND_NOW,
            "send_at": timezone.localtime(campaign.send_at, ZoneInfo(time_zone)).replace(tzinfo=None)
            if campaign.send_at
            else None,
            "holdout_percent": campaign.holdout_percent,
            "goal_event": campaign.goal_event,
            "conversion_window_days": campaign.conversion_window_days,
            "segment": campaign.segment_id,
        }
        for n, channel in enumerate(campaign.channels, start=1):
            initial[f"channel_{n}"] = channel
        for template in campaign.templates.all():
            initial[f"template_{template.channel}"] = template.pk
        return initial
