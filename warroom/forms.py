from __future__ import annotations

from typing import Any

from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from tenants.models import User
from tenants.selectors import udn_list
from warroom.models import CHANNEL_CHOICES, BoardColumn, JointCampaign, JointKind

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class JointCampaignForm(forms.Form):
    kind = forms.ChoiceField(
        label=capfirst(_("kind")), choices=JointKind.choices, initial=JointKind.CROSS_SELL
    )
    name = forms.CharField(label=capfirst(_("name")), max_length=160)
    promoting_udn = forms.ModelChoiceField(
        label=capfirst(_("promoting UDN")), queryset=udn_list(), empty_label=_("Choose the promoting UDN")
    )
    product = forms.CharField(label=capfirst(_("product")), max_length=160, required=False)
    sources = forms.ModelMultipleChoiceField(
        label=capfirst(_("source UDNs")), queryset=udn_list(), widget=forms.CheckboxSelectMultiple
    )
    channel = forms.ChoiceField(label=capfirst(_("channel")), choices=CHANNEL_CHOICES)
    subject = forms.CharField(label=capfirst(_("subject")), max_length=200, required=False)
    body = forms.CharField(
        label=capfirst(_("message")), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    start_date = forms.DateField(label=capfirst(_("starts on")), widget=DATE_INPUT)
    end_date = forms.DateField(label=capfirst(_("ends on")), widget=DATE_INPUT)
    goal = forms.CharField(label=capfirst(_("goal")), max_length=200, required=False)
    budget = forms.DecimalField(
        label=capfirst(_("budget (R$)")), max_digits=12, decimal_places=2, min_value=0, initial=0
    )
    confirm = forms.BooleanField(label=_("Save despite the warnings"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")  # "Tipo", not "tipo:"
        super().__init__(*args, **kwargs)

    @staticmethod
    def initial_from(campaign: JointCampaign) -> dict[str, object]:
        return {
            "kind": campaign.kind,
            "name": campaign.name,
            "promoting_udn": campaign.promoting_udn,
            "product": campaign.product,
            "sources": [s.udn for s in campaign.sources.select_related("udn")],
            "channel": campaign.channel,
            "subject": campaign.subject,
            "body": campaign.body,
            "start_date": campaign.start_date,
            "end_date": campaign.end_date,
            "goal": campaign.goal,
            "budget": campaign.budget,
        }


class DecisionForm(forms.Form):
    audience_query = forms.CharField(
        label=_("audience (a filter of your affiliate list)"),
        required=False,
        help_text=_("Paste the address or the filter of your UDN's affiliate list, e.g. state=SP&tag=vip."),
    )
    comment = forms.CharField(label=_("comment"), widget=forms.Textarea(attrs={"rows": 2}), required=False)


class MoveForm(forms.Form):
    key = forms.CharField()
    date = forms.DateField(label=_("new date"), widget=DATE_INPUT)
    confirm = forms.BooleanField(required=False)


class CalendarSettingsForm(forms.Form):
    conflict_days = forms.IntegerField(
        label=_("fatigue window (days)"),
        min_value=0,
        max_value=60,
        help_text=_("Campaigns on the same base and channel closer than this many days warn."),
    )


def _people() -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        label=_("owner"), queryset=User.objects.filter(is_active=True), required=False
    )


class ActionForm(forms.Form):
    title = forms.CharField(label=_("title"), max_length=200)
    description = forms.CharField(
        label=_("description"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    team = forms.CharField(label=_("responsible team"), max_length=120, required=False)
    udns = forms.ModelMultipleChoiceField(
        label=_("UDNs involved"), queryset=udn_list(), widget=forms.CheckboxSelectMultiple, required=False
    )
    owner = _people()
    deadline = forms.DateField(label=_("deadline"), widget=DATE_INPUT, required=False)
    campaign = forms.ModelChoiceField(
        label=_("linked campaign"), queryset=JointCampaign.objects.all(), required=False
    )
    column = forms.ModelChoiceField(label=_("status"), queryset=BoardColumn.objects.all(), required=False)


class ColumnForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=60)
    wip_limit = forms.IntegerField(label=_("WIP limit"), min_value=1, required=False)
    is_done = forms.BooleanField(label=_("done column"), required=False)


class CrmDayForm(forms.Form):
    start = forms.DateField(label=_("start date"), widget=DATE_INPUT)
    udns = forms.ModelMultipleChoiceField(
        label=_("UDNs involved"), queryset=udn_list(), widget=forms.CheckboxSelectMultiple, required=False
    )
