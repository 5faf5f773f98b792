from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.models import EventKind, EventType, Segment, Stage
from crm.normalize.scalar import NormalizationError, amount_parse
from crm.templatetags.crm_format import brl
from loyalty.models import LimitPeriod, Mission, PointsKind, Programme, Reward, Rule
from loyalty.services.catalogue import REWARD_FIELDS

# A date input the browser shows as dd/mm/aaaa (pt-BR) and sends as ISO: its value must be ISO.
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class BRLField(forms.CharField):
    """An amount in R$ as people type it ("1.234,56", "R$ 50", "1234.5"), through the one
    Brazilian amount parser; shown back as 1.234,56."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal"}))
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, int | float | Decimal):
            return brl(value).replace("R$\u00a0", "")
        return value

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        try:
            return amount_parse(text)
        except NormalizationError:
            raise forms.ValidationError(_("Type an amount in R$, e.g. 1.234,56."), code="invalid") from None


class _ParseOnly(forms.ModelForm):
    """The model's fields as form fields, their values parsed; what makes them acceptable is the
    service's one validation (loyalty.services.catalogue), so the instance is neither changed nor
    validated here (the model's check constraints would answer in their own words)."""

    def _post_clean(self) -> None:
        pass


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


def segment_choices() -> list[tuple[str, str]]:
    return [("", str(_("Any affiliate")))] + [
        (str(pk), name) for pk, name in Segment.objects.order_by("name", "id").values_list("pk", "name")
    ]


class RuleForm(forms.Form):
    code = forms.SlugField(label=_("code"), max_length=60)
    name = forms.CharField(label=_("name"), max_length=120)
    event_type = forms.ChoiceField(label=_("event kind"))
    points_kind = forms.ChoiceField(label=_("points"), choices=PointsKind.choices)
    # No bounds here: loyalty.services.programme.rule_errors says what is acceptable, once.
    points = forms.DecimalField(label=_("points / factor"), max_digits=12, decimal_places=4)
    conditions = forms.CharField(
        label=_("conditions on the event"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_('JSON, e.g. [{"field": "channel", "op": "eq", "value": "app"}]'),
    )
    stages = forms.MultipleChoiceField(label=_("stages"), choices=Stage.choices, required=False)
    plans = forms.CharField(label=_("plans"), required=False, help_text=_("Comma-separated; empty: any."))
    tiers = forms.CharField(label=_("tiers"), required=False, help_text=_("Comma-separated; empty: any."))
    # A select of the UDN's saved segments; that the one chosen exists is rule_errors' to say.
    segment_id = forms.IntegerField(
        label=_("segment"),
        required=False,
        widget=forms.Select,
        help_text=_("The affiliate must be in it when the event earns; empty: anyone."),
    )
    limit_period = forms.ChoiceField(label=_("limit"), choices=LimitPeriod.choices, required=False)
    limit_count = forms.IntegerField(label=_("times per period"), initial=1)
    valid_from = forms.DateField(label=_("valid from"), required=False, widget=DATE_INPUT)
    valid_until = forms.DateField(label=_("valid until"), required=False, widget=DATE_INPUT)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["event_type"].choices = event_kind_choices()  # type: ignore[attr-defined]
        choices = segment_choices()
        chosen = self.data.get("segment_id") if self.is_bound else self.initial.get("segment_id")
        if chosen and str(chosen) not in {value for value, _label in choices}:
            # Its segment was deleted: shown as such (saving it is refused), never silently "any".
            choices.append((str(chosen), str(_("Segment deleted"))))
        self.fields["segment_id"].widget.choices = choices  # type: ignore[attr-defined]

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
            if name in data:
                data[name] = [v.strip() for v in (data.get(name) or "").split(",") if v.strip()]
        if "stages" in data:
            data["stages"] = list(data.get("stages") or [])
        return data

    @classmethod
    def initial_for(cls, rule: Rule) -> dict[str, Any]:
        """A saved rule as the form shows it."""
        return {
            "code": rule.code,
            "name": rule.name,
            "event_type": rule.event_type,
            "points_kind": rule.points_kind,
            "points": rule.points,
            "conditions": json.dumps(rule.conditions, ensure_ascii=False) if rule.conditions else "",
            "stages": rule.stages,
            "plans": ", ".join(rule.plans),
            "tiers": ", ".join(rule.tiers),
            "segment_id": rule.segment_id,
            "limit_period": rule.limit_period,
            "limit_count": rule.limit_count,
            "valid_from": rule.valid_from,
            "valid_until": rule.valid_until,
        }


def service_errors_to_form(form: forms.BaseForm, errors: dict[str, str]) -> None:
    """A service's field → message on `form`, beside each field; a field the form already
    refused keeps its own message."""
    for name, message in errors.items():
        field = name if name in form.fields else None
        if field is None or field not in form.errors:
            form.add_error(field, message)


class RewardForm(_ParseOnly):
    cost = BRLField(label=_("cost (R$)"))

    class Meta:
        model = Reward
        fields = list(REWARD_FIELDS)  # the fields reward_save reads
        widgets = {
            "available_from": DATE_INPUT,
            "available_until": DATE_INPUT,
            "description": forms.Textarea(attrs={"rows": 2}),
        }


class MissionForm(_ParseOnly):
    steps_text = forms.CharField(label=_("steps (event kinds)"), help_text=_("Comma-separated, in order."))

    class Meta:
        model = Mission
        fields = ["name", "ordered", "period_days", "bonus_points", "starts_on", "ends_on", "active"]
        widgets = {"starts_on": DATE_INPUT, "ends_on": DATE_INPUT}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["steps_text"] = ", ".join(self.instance.steps)

    def data_for_service(self) -> dict[str, Any]:
        """What the form read, as the services take it (a field it could not read is left out)."""
        data = {k: v for k, v in self.cleaned_data.items() if k != "steps_text"}
        if "steps_text" in self.cleaned_data:
            data["steps"] = [s.strip() for s in self.cleaned_data["steps_text"].split(",") if s.strip()]
        return data

    def add_service_errors(self, errors: dict[str, str]) -> None:
        """The service names the steps `steps`; here they are typed in `steps_text`."""
        service_errors_to_form(self, {"steps_text" if k == "steps" else k: v for k, v in errors.items()})


class SimulationForm(forms.Form):
    start = forms.DateField(label=_("from"), widget=DATE_INPUT)
    end = forms.DateField(label=_("to"), widget=DATE_INPUT)


class BudgetForm(forms.Form):
    month = forms.DateField(
        label=_("month"),
        input_formats=["%Y-%m", "%m/%Y"],
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
    )
    budget = BRLField(label=_("budget (R$)"))


class AdjustForm(forms.Form):
    points = forms.IntegerField(label=_("points"))
    reason = forms.CharField(label=_("reason"), max_length=500)
