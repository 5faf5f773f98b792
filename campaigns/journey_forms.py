"""The journey editor's forms, one for each kind of step and of trigger: they read the fields
(durations with units, templates from a list, percentages, tags...) into a step or trigger of the
graph (campaigns.journey_graph) and back. The rules of a valid step live in journey_graph; a form
only parses its fields and, with `graph_errors_add`, puts journey_graph's errors beside the field
each concerns."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.journey_graph import branch_definition
from campaigns.selectors.journey_editor import EditorChoices

UNITS = (
    ("minutes", gettext_lazy("minutes")),
    ("hours", gettext_lazy("hours")),
    ("days", gettext_lazy("days")),
)
_MINUTES = {"minutes": 1, "hours": 60, "days": 1440}
SEND_ROWS = 3
SPLIT_ROWS = 4


def _duration_initial(item: dict[str, Any]) -> dict[str, Any]:
    """A stored duration shown in the largest unit that writes it whole."""
    total = round(
        float(item.get("days") or 0) * 1440
        + float(item.get("hours") or 0) * 60
        + float(item.get("minutes") or 0)
    )
    for unit in ("days", "hours"):
        if total and total % _MINUTES[unit] == 0:
            return {"amount": total // _MINUTES[unit], "unit": unit}
    return {"amount": total or None, "unit": "minutes"}


def _words(text: str) -> list[str]:
    return [word.strip() for word in text.replace(";", ",").split(",") if word.strip()]


class EditorForm(forms.Form):
    """Common to the editor's forms: `kind`, the edges (selects of the draft's steps) and how
    journey_graph's error keys map to fields."""

    kind: ClassVar[str]
    edges: ClassVar[tuple[str, ...]] = ("next",)
    #: journey_graph's error key → this form's field (missing: shown above the form).
    error_fields: ClassVar[dict[str, str]] = {}

    def __init__(
        self, *args: Any, choices: EditorChoices, current: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if current is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_from(current)
        super().__init__(*args, **kwargs)
        self.choices = choices
        self.current = current
        self.group_errors: dict[str, list[str]] = {}
        end = [("", _("(end of the journey)"))]
        for name in self.edge_fields():
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = end + choices.steps

    def edge_fields(self) -> list[str]:
        return list(self.edges)

    def initial_from(self, current: dict[str, Any]) -> dict[str, Any]:
        return {edge: current.get(edge) or "" for edge in self.edges}

    def graph_errors_add(self, errors: dict[str, list[str]]) -> None:
        """Put journey_graph's errors (by its keys) beside the fields they concern."""
        for key, messages in errors.items():
            field = self.error_fields.get(key, key)
            for message in messages:
                if field in self.fields:
                    self.add_error(field, message)
                elif field in ("arms",):
                    self.group_errors.setdefault(field, []).append(message)
                else:
                    self.add_error(None, message)

    def edges_out(self) -> dict[str, Any]:
        return {edge: self.cleaned_data.get(edge) or None for edge in self.edges}


class StepForm(EditorForm):
    """A step: its id when it is added (fixed afterwards: exits lead to it by id) and the exit of
    an existing step it comes after."""

    type: ClassVar[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.current is None:
            self.fields["id"] = forms.CharField(
                label=_("Step id"),
                max_length=40,
                help_text=_("Letters, digits, - and _. The diagram and the reports name the step by it."),
            )
            self.fields["after"] = forms.ChoiceField(
                label=_("Comes after"),
                required=False,
                choices=[("", _("(connect later)"))] + self.choices.exits,
            )
            self.order_fields(["id", "after"])

    def to_step(self) -> dict[str, Any]:
        step: dict[str, Any] = {"type": self.type}
        if self.current is None:
            step["id"] = self.cleaned_data["id"].strip()
        step.update(self.fields_out())
        step.update(self.edges_out())
        return step

    def fields_out(self) -> dict[str, Any]:
        return {}


class SendForm(StepForm):
    kind = type = "send"
    error_fields: ClassVar[dict[str, str]] = {"channels": "template_1", "templates": "template_1"}
    mode = forms.ChoiceField(
        label=gettext_lazy("How to send"),
        choices=(
            (
                "chain",
                gettext_lazy("Fallback chain: the next template only if the one before cannot be sent"),
            ),
            ("all", gettext_lazy("Every template (one message on each channel)")),
        ),
    )
    next = forms.ChoiceField(label=gettext_lazy("Then"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options = [("", _("(none)"))] + [(slug, label) for slug, label, _channel in self.choices.templates]
        for n in range(1, SEND_ROWS + 1):
            self.fields[f"template_{n}"] = forms.ChoiceField(
                label=_("Template %(n)s") % {"n": n}, choices=options, required=n == 1
            )

    def initial_from(self, current: dict[str, Any]) -> dict[str, Any]:
        initial = super().initial_from(current) | {"mode": current.get("mode", "chain")}
        chosen = current.get("templates") or {}
        for n, channel in enumerate(current.get("channels") or [], start=1):
            initial[f"template_{n}"] = chosen.get(channel, "") if isinstance(chosen, dict) else ""
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        channel_of = {slug: channel for slug, _label, channel in self.choices.templates}
        seen: set[str] = set()
        for n in range(1, SEND_ROWS + 1):
            slug = data.get(f"template_{n}")
            if slug and channel_of.get(slug) in seen:
                self.add_error(
                    f"template_{n}", _("Each channel once a step: choose a template of another channel.")
                )
            elif slug:
                seen.add(channel_of[slug])
        return data

    def fields_out(self) -> dict[str, Any]:
        channel_of = {slug: channel for slug, _label, channel in self.choices.templates}
        slugs: list[str] = [
            slug for n in range(1, SEND_ROWS + 1) if (slug := self.cleaned_data.get(f"template_{n}"))
        ]
        return {
            "channels": [channel_of[slug] for slug in slugs],
            "templates": {channel_of[slug]: slug for slug in slugs},
            "mode": self.cleaned_data["mode"],
        }


class DurationMixin(forms.Form):
    amount = forms.IntegerField(label=gettext_lazy("How long"), min_value=1)
    unit = forms.ChoiceField(label=gettext_lazy("Unit"), choices=UNITS, initial="hours")

    def duration_out(self) -> dict[str, Any]:
        return {self.cleaned_data["unit"]: self.cleaned_data["amount"]}


class WaitForm(DurationMixin, StepForm):
    kind = type = "wait"
    error_fields: ClassVar[dict[str, str]] = {"duration": "amount"}
    next = forms.ChoiceField(label=gettext_lazy("Then"), required=False)

    def initial_from(self, current: dict[str, Any]) -> dict[str, Any]:
        return super().initial_from(current) | _duration_initial(current)

    def fields_out(self) -> dict[str, Any]:
        return self.duration_out()


class WaitUntilForm(StepForm):
    kind, type = "wait_until", "wait"
    until = forms.TimeField(
        label=gettext_lazy("Until (the affiliate's local time)"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    next = forms.ChoiceField(label=gettext_lazy("Then"), required=False)

    def initial_from(self, current: dict[str, Any]) -> dict[str, Any]:
        return super().initial_from(current) | {"until": current.get("until", "")}

    def fields_out(self) -> dict[str, Any]:
        return {"until": self.cleaned_data["until"].strftime("%H:%M")}


class WaitEventForm(DurationMixin, StepForm):
    kind = type = "wait_event"
    edges = ("yes", "no")
    error_fields: ClassVar[dict[str, str]] = {"duration": "amount"}
    event = forms.ChoiceField(label=gettext_lazy("Event waited for"))
    yes = forms.ChoiceField(label=gettext_lazy("If it happened, go to"), required=False)
    no = forms.ChoiceField(label=gettext_lazy("If the time runs out, go to"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"].label = _("Timeout")
        event = self.fields["event"]
        assert isinstance(event, forms.ChoiceField)
        event.choices = [("", "—")] + self.choices.event_types

    def initial_from(self, current: dict[str, Any]) -> dict[str, Any]:
        return (
            super().initial_from(current) | _duration_initial(current) | {"event": current.get("event", "")}
        )

    def fields_out(self) -> dict[str, Any]:
        return {"event": self.cleaned_data["event"], **self.duration_out()}


class BranchForm(StepForm):
    """A yes/no condition: "in saved segment X", or a condition tree in the segment definition's
    JSON (crm.segmentation, the segment builder's format) for what a segment does not say."""

    kind = type = "branch"
    edges = ("yes", "no")
    label = forms.CharField(label=gettext_lazy("Label (shown in the reasons)"), max_length=80, required=False)
    segment = forms.TypedChoiceField(
        label=gettext_lazy("In the saved segment"), coerce=int, required=False, empty_value=None
    )
    condition = forms.CharField(
        label=gettext_lazy("Or a condition tree (JSON, advanced)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
    )
    yes = forms.ChoiceField(label=gettext_lazy("If yes, go to"), required=False)
    no = forms.ChoiceField(label=gettext_lazy("If not, go to"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        segment = self.fields["segment"]
        assert isinstance(segment, forms.ChoiceField)
        segment.choices = [("", "—")] + [(str(pk), name) for pk, name in self.choices.segments]

    def initial_from(self, current: dict[str, Any]) -> dict[str, Any]:
        initial = super().initial_from(current) | {"label": current.get("label", "")}
        definition = branch_definition(current.get("condition"))
        root = definition.get("root") if isinstance(definition, dict) else None
        parts = root.get("conditions") if isinstance(root, dict) and root.get("op") == "and" else None
        if isinstance(parts, list) and len(parts) == 1 and parts[0].get("kind") == "segment":
            initial["segment"] = parts[0].get("segment_id")
        elif current.get("condition") is not None:
            initial["condition"] = json.dumps(definition, ensure_ascii=False, indent=2)
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        segment, text = data.get("segment"), (data.get("condition") or "").strip()
        if segment and text:
            self.add_error("condition", _("Choose a saved segment or write a condition, not both."))
        elif not segment and not text:
            self.add_error("segment", _("Choose a saved segment or write a condition."))
        elif text:
            try:
                data["condition_tree"] = json.loads(text)
            except json.JSONDecodeError as error:
                self.add_error(
                    "condition", _("The condition is not valid JSON: %(error)s") % {"error": error}
                )
        return data

    def fields_out(self) -> dict[str, Any]:
        segment = self.cleaned_data.get("segment")
        if segment:
            condition: Any = {
                "version": 1,
                "root": {
                    "kind": "group",
                    "op": "and",
                    "conditions": [{"kind": "segment", "segment_id": segment}],
                },
            }
        else:
            condition = self.cleaned_data["condition_tree"]
        out: dict[str, Any] = {"condition": condition}
        if self.cleaned_data.get("label"):
            out["label"] = self.cleaned_data["label"].strip()
        return out


class SplitForm(StepForm):
    kind = type = "split"
    edges = ()
    error_fields: ClassVar[dict[str, str]] = {f"arm-{n}": f"arm_next_{n + 1}" for n in range(SPLIT_ROWS)}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        end = [("", _("(end of the journey)"))]
        for n in range(1, SPLIT_ROWS + 1):
            self.fields[f"arm_name_{n}"] = forms.CharField(
                label=_("Arm %(n)s: name") % {"n": n}, max_length=40, required=False
            )
            self.fields[f"arm_percent_{n}"] = forms.IntegerField(
                label=_("Arm %(n)s: percentage") % {"n": n}, min_value=1, max_value=100, required=False
            )
            self.fields[f"arm_next_{n}"] = forms.ChoiceField(
                label=_("Arm %(n)s: go to") % {"n": n}, choices=end + self.choices.steps, required=False
            )

    def arm_rows(self) -> list[tuple[forms.BoundField, forms.BoundField, forms.BoundField]]:
        return [
            (self[f"arm_name_{n}"], self[f"arm_percent_{n}"], self[f"arm_next_{n}"])
            for n in range(1, SPLIT_ROWS + 1)
        ]

    def initial_from(self, current: dict[str, Any]) -> dict[str, Any]:
        initial: dict[str, Any] = {}
        for n, arm in enumerate(current.get("arms") or [], start=1):
            if isinstance(arm, dict):
                initial |= {
                    f"arm_name_{n}": arm.get("name", ""),
                    f"arm_percent_{n}": arm.get("percent"),
                    f"arm_next_{n}": arm.get("next") or "",
                }
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for n in range(1, SPLIT_ROWS + 1):
            if data.get(f"arm_percent_{n}") and not (data.get(f"arm_name_{n}") or "").strip():
                self.add_error(f"arm_name_{n}", _("Name the arm."))
        return data

    def fields_out(self) -> dict[str, Any]:
        arms = []
        for n in range(1, SPLIT_ROWS + 1):
            name = (self.cleaned_data.get(f"arm_name_{n}") or "").strip()
            if name or self.cleaned_data.get(f"arm_percent_{n}"):
                arms.append(
                    {
                        "name": name,
                        "percent": self.cleaned_data.get(f"arm_percent_{n}") or 0,
                        "next": self.cleaned_data.get(f"arm_next_{n}") or None,
                    }
                )
        return {"arms": arms}


class UpdateForm(StepForm):
    kind = type = "update"
    error_fields: ClassVar[dict[str, str]] = {"update": "add_tags"}
    add_tags = forms.CharField(label=gettext_lazy("Add tags (separated by commas)"), required=False)
    remove_tags = forms.CharField(label=gettext_lazy("Remove tags (separated by commas)"), required=False)
    attributes = forms.CharField(
        label=gettext_lazy("Set attributes (one a line: name=value)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    next = forms.ChoiceField(label=gettext_lazy("Then"), required=False)

    def initial_from(self, current: dict[str, Any]) -> dict[str, Any]:
        attributes = current.get("attributes") or {}
        return super().initial_from(current) | {
            "add_tags": ", ".join(current.get("add_tags") or []),
            "remove_tags": ", ".join(current.get("remove_tags") or []),
            "attributes": "\n".join(f"{k}={v}" for k, v in attributes.items())
            if isinstance(attributes, dict)
            else "",
        }

    def clean_attributes(self) -> dict[str, str]:
        result: dict[str, str] = {}
        for line in (self.cleaned_data.get("attributes") or "").splitlines():
            if not line.strip():
                continue
            name, equals, value = line.partition("=")
            if not equals or not name.strip():
                raise forms.ValidationError(_("Write one attribute a line as name=value."))
            result[name.strip()] = value.strip()
        return result

    def fields_out(self) -> dict[str, Any]:
        return {
            "add_tags": _words(self.cleaned_data.get("add_tags") or ""),
            "remove_tags": _words(self.cleaned_data.get("remove_tags") or ""),
            "attributes": self.cleaned_data.get("attributes") or {},
        }


class WebhookForm(StepForm):
    kind = type = "webhook"
    url = forms.CharField(
        label=gettext_lazy("Address (https://…)"),
        max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )
    next = forms.ChoiceField(label=gettext_lazy("Then"), required=False)

    def initial_from(self, current: dict[str, Any]) -> dict[str, Any]:
        return super().initial_from(current) | {"url": current.get("url", "")}

    def fields_out(self) -> dict[str, Any]:
        return {"url": self.cleaned_data["url"].strip()}


class ExitForm(StepForm):
    kind = type = "exit"
    edges = ()


STEP_FORMS: dict[str, type[StepForm]] = {
    form.kind: form
    for form in (
        SendForm,
        WaitForm,
        WaitUntilForm,
        WaitEventForm,
        BranchForm,
        SplitForm,
        UpdateForm,
        WebhookForm,
        ExitForm,
    )
}


# --- triggers -----------------------------------------------------------------------------------------


class TriggerForm(EditorForm):
    edges = ("start",)
    start = forms.ChoiceField(label=gettext_lazy("Starts at the step"))

    def to_trigger(self) -> dict[str, Any]:
        return {"type": self.kind, **self.fields_out(), "start": self.cleaned_data["start"]}

    def fields_out(self) -> dict[str, Any]:
        return {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        start = self.fields["start"]
        assert isinstance(start, forms.ChoiceField)
        start.choices = [("", "—")] + self.choices.steps


class EventTriggerForm(TriggerForm):
    kind = "event"
    event = forms.ChoiceField(label=gettext_lazy("Event"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        event = self.fields["event"]
        assert isinstance(event, forms.ChoiceField)
        event.choices = [("", "—")] + self.choices.event_types
        self.order_fields(["event", "start"])

    def initial_from(self, current: dict[str, Any]) -> dict[str, Any]:
        return super().initial_from(current) | {"event": current.get("event", "")}

    def fields_out(self) -> dict[str, Any]:
        return {"event": self.cleaned_data["event"]}


class SegmentTriggerForm(TriggerForm):
    kind = "segment"
    segment = forms.TypedChoiceField(label=gettext_lazy("Segment"), coerce=int)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        segment = self.fields["segment"]
        assert isinstance(segment, forms.ChoiceField)
        segment.choices = [("", "—")] + [(str(pk), name) for pk, name in self.choices.segments]
        self.order_fields(["segment", "start"])

    def initial_from(self, current: dict[str, Any]) -> dict[str, Any]:
        return super().initial_from(current) | {"segment": current.get("segment")}

    def fields_out(self) -> dict[str, Any]:
        return {"segment": self.cleaned_data["segment"]}


class DateTriggerForm(TriggerForm):
    kind = "date"
    error_fields: ClassVar[dict[str, str]] = {"field": "attribute"}
    date_field = forms.ChoiceField(
        label=gettext_lazy("Date"),
        choices=(
            ("birth_date", gettext_lazy("Date of birth")),
            ("attribute", gettext_lazy("A date attribute")),
        ),
    )
    attribute = forms.RegexField(
        label=gettext_lazy("Attribute name (for a date attribute)"),
        regex=r"^[A-Za-z0-9_]{1,60}$",
        required=False,
        error_messages={"invalid": gettext_lazy("Letters, digits and _ only.")},
    )
    offset_days = forms.IntegerField(
        label=gettext_lazy("Days from the date (negative: before it)"),
        min_value=-366,
        max_value=366,
        initial=0,
    )
    yearly = forms.BooleanField(label=gettext_lazy("Every year (anniversary)"), required=False)

    def initial_from(self, current: dict[str, Any]) -> dict[str, Any]:
        field = str(current.get("field") or "birth_date")
        return super().initial_from(current) | {
            "date_field": "birth_date" if field == "birth_date" else "attribute",
            "attribute": field.removeprefix("attributes.") if field != "birth_date" else "",
            "offset_days": current.get("offset_days", 0),
            "yearly": bool(current.get("yearly")),
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (
            data.get("date_field") == "attribute"
            and not data.get("attribute")
            and "attribute" not in self.errors
        ):
            self.add_error("attribute", _("Name the date attribute."))
        return data

    def fields_out(self) -> dict[str, Any]:
        data = self.cleaned_data
        field = "birth_date" if data["date_field"] == "birth_date" else f"attributes.{data['attribute']}"
        return {"field": field, "offset_days": data["offset_days"], "yearly": bool(data.get("yearly"))}


class ManualTriggerForm(TriggerForm):
    kind = "manual"


TRIGGER_FORMS: dict[str, type[TriggerForm]] = {
    form.kind: form for form in (EventTriggerForm, SegmentTriggerForm, DateTriggerForm, ManualTriggerForm)
}
