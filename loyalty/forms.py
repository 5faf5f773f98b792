from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.models import EventKind, EventType, Stage
from loyalty.models import LimitPeriod, Mission, PointsKind, Programme, Reward


class ProgrammeForm(forms.ModelForm):
    class Meta:
        model = Programme
        fields = [
            "name",
            "currency_name",
            "point_value",
            "expiry_months",
            "expiry_warning_days",
            "expiry_warning_template",
            "alert_template",
            "monthly_budget",
            "expected_redemption_rate",
            "ranking_top_n",
        ]


def event_kind_choices() -> list[tuple[str, str]]:
    return [(v, str(label)) for v, label in EventType.choices] + [
        (code, label) for code, label in EventKind.objects.values_list("code", "label")
    ]


class RuleForm(forms.Form):
    code = forms.SlugField(label=_("code"), max_length=60)
    name = forms.CharField(label=_("name"), max_length=120)
    event_type = forms.ChoiceField(label=_("event kind"))
    points_kind = forms.ChoiceField(label=_("points"), choices=PointsKind.choices)
    points = forms.DecimalField(label=_("points / factor"), max_digits=12, decimal_places=4, min_value=0)
    conditions = forms.CharField(
        label=_("conditions on the event"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_('JSON, e.g. [{"field": "channel", "op": "eq", "value": "app"}]'),
    )
    stages = forms.MultipleChoiceField(label=_("stages"), choices=Stage.choices, required=False)
    plans = forms.CharField(label=_("plans"), required=False, help_text=_("Comma-separated; empty: any."))
    tiers = forms.CharField(label=_("tiers"), required=False, help_text=_("Comma-separated; empty: any."))
    limit_period = forms.ChoiceField(label=_("limit"), choices=LimitPeriod.choices, required=False)
    limit_count = forms.IntegerField(label=_("times per period"), min_value=1, initial=1)
    valid_from = forms.DateField(
        label=_("valid from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    valid_until = forms.DateField(
        label=_("valid until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["event_type"].choices = event_kind_choices()  # type: ignore[attr-defined]

    def clean_conditions(self) -> list[Any]:
        raw = (self.cleaned_data.get("conditions") or "").strip()
        if not raw:
            return []
        try:
            value = json.loads(raw)
        except ValueError:
            raise forms.ValidationError(_("Conditions must be JSON.")) from None
        return value if isinstance(value, list) else [value]

    def data_for_service(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        for name in ("plans", "tiers"):
            data[name] = [v.strip() for v in (data.get(name) or "").split(",") if v.strip()]
        data["stages"] = list(data.get("stages") or [])
        return data


class RewardForm(forms.ModelForm):
    class Meta:
        model = Reward
        fields = [
            "name",
            "kind",
            "description",
            "points_price",
            "cost",
            "stock",
            "available_from",
            "available_until",
            "active",
        ]
        widgets = {
            "available_from": forms.DateInput(attrs={"type": "date"}),
            "available_until": forms.DateInput(attrs={"type": "date"}),
            "description": forms.Textarea(attrs={"rows": 2}),
        }


class MissionForm(forms.ModelForm):
    steps_text = forms.CharField(label=_("steps (event kinds)"), help_text=_("Comma-separated, in order."))

    class Meta:
        model = Mission
        fields = ["name", "ordered", "period_days", "bonus_points", "starts_on", "ends_on", "active"]
        widgets = {
            "starts_on": forms.DateInput(attrs={"type": "date"}),
            "ends_on": forms.DateInput(attrs={"type": "date"}),
        }


class SimulationForm(forms.Form):
    start = forms.DateField(label=_("from"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("to"), widget=forms.DateInput(attrs={"type": "date"}))


class AdjustForm(forms.Form):
    points = forms.IntegerField(label=_("points"))
    reason = forms.CharField(label=_("reason"), max_length=500)
