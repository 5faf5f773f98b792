"""Segments in a UDN's space: the list (search, counts with their time), the builder (conditions
edited in the page by static/js/segments.js, a live count and a sample of members as you edit,
through htmx), save. Any member reads and previews; marketers save."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from crm.access import segment_access, segment_get
from crm.channels import CHANNEL_CHOICES
from crm.fields import FIELDS
from crm.models import EventKind, EventType, Segment, Stage
from crm.segmentation import FIELD_KINDS, SegmentInvalid
from crm.selectors.segments import (
    segment_count,
    segment_list,
    segment_sample,
    segment_uses,
    segment_vocabulary,
)
from crm.services.segments import SegmentInUse, segment_delete, segment_save
from crm.views._methods import post_or_redirect

DEFINITION_MAX_CHARS = 100_000
EMPTY_DEFINITION: dict[str, Any] = {"version": 1, "root": {"kind": "group", "op": "and", "conditions": []}}


class SegmentForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120)
    description = forms.CharField(
        label=gettext_lazy("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    tracked = forms.BooleanField(
        label=gettext_lazy("Keep the members up to date (journeys listen to who enters and leaves)"),
        required=False,
    )
    definition = forms.CharField(widget=forms.HiddenInput, max_length=DEFINITION_MAX_CHARS)

    def clean_definition(self) -> Any:
        try:
            return json.loads(self.cleaned_data["definition"])
        except ValueError:
            raise forms.ValidationError(
                _("The segment's conditions are not in the expected format.")
            ) from None


def _labelled(pairs: Any) -> list[dict[str, str]]:
    return [{"value": str(value), "label": str(label)} for value, label in pairs]


def _vocabulary(*, exclude: int | None = None) -> dict[str, Any]:
    """What the builder offers, with pt-BR labels (read by static/js/segments.js)."""
    vocabulary = segment_vocabulary()
    fields = [(name, FIELDS[name].label if name in FIELDS else _("total cash in")) for name in FIELD_KINDS]
    kinds = dict(EventKind.objects.values_list("code", "label"))
    event_types = [(value, label) for value, label in EventType.choices] + sorted(
        (code, label) for code, label in kinds.items() if code not in EventType.values
    )
    return {
        "kinds": _labelled(
            [
                ("field", _("Affiliate field")),
                ("consent", _("Consent")),
                ("stage", _("Stage")),
                ("tier", _("Deposit tier")),
                ("tags", _("Tags")),
                ("attribute", _("Custom attribute")),
                ("event", _("Events")),
                ("sequence", _("Event followed (or not) by another")),
                ("segment", _("In another segment")),
            ]
        ),
        "fields": [{"value": name, "label": str(label), "type": FIELD_KINDS[name]} for name, label in fields],
        "operators": {
            "text": _labelled(
                [
                    ("eq", _("is")),
                    ("ne", _("is not")),
                    ("in", _("is one of (separated by commas)")),
                    ("not_in", _("is none of (separated by commas)")),
                    ("contains", _("contains")),
                    ("starts_with", _("starts with")),
                    ("blank", _("is blank")),
                    ("present", _("is filled in")),
                ]
            ),
            "order": _labelled(
                [
                    ("eq", _("is")),
                    ("ne", _("is not")),
                    ("lt", _("is less than")),
                    ("lte", _("is at most")),
                    ("gt", _("is more than")),
                    ("gte", _("is at least")),
                    ("blank", _("is blank")),
                    ("present", _("is filled in")),
                ]
            ),
            "attribute": _labelled(
                [
                    ("eq", _("is")),
                    ("ne", _("is not")),
                    ("contains", _("contains")),
                    ("present", _("is filled in")),
                    ("blank", _("is blank")),
                    ("gt", _("is more than")),
                    ("gte", _("is at least")),
                    ("lt", _("is less than")),
                    ("lte", _("is at most")),
                ]
            ),
            "event": _labelled(
                [
                    ("gte", _("at least")),
                    ("gt", _("more than")),
                    ("eq", _("exactly")),
                    ("lte", _("at most")),
                    ("lt", _("fewer than")),
                ]
            ),
            "stage": _labelled(
                [("in", _("is one of")), ("not_in", _("is none of")), ("reached", _("reached"))]
            ),
            "tier": _labelled([("in", _("is one of")), ("not_in", _("is none of"))]),
            "tags": _labelled(
                [("any", _("has any of")), ("all", _("has all of")), ("none", _("has none of"))]
            ),
        },
        "measures": _labelled([("count", _("number of times")), ("sum", _("sum of amounts (R$)"))]),
        "channels": _labelled(CHANNEL_CHOICES),
        "stages": _labelled(Stage.choices),
        "tiers": _labelled([("", _("(no tier)")), *((name, name) for name in sorted(vocabulary.tiers))]),
        "event_types": _labelled(event_types),
        "segments": _labelled(
            (segment.pk, segment.name)
            for segment in segment_list().exclude(pk=exclude or 0).only("id", "name")
        ),
        "labels": {
            "all": _("all of"),
            "any": _("any of"),
            "match": _("Affiliates who match"),
            "add_condition": _("Add condition"),
            "add_group": _("Add group"),
            "remove": _("Remove"),
            "negate": _("not"),
            "yes": _("gave consent"),
            "no": _("did not give consent"),
            "value": _("value"),
            "key": _("attribute name"),
            "within_days": _("in the last N days (blank: ever)"),
            "within_hours": _("within hours"),
            "followed": _("followed by"),
            "not_followed": _("not followed by"),
            "empty": _("No conditions yet: add one."),
        },
    }


def segment_list_page(request: HttpRequest) -> HttpResponse:
    segment_access(user=request.user)
    q = request.GET.get("q", "")[:120]
    return render(request, "crm/segment_list.html", {"segments": list(segment_list(q=q)), "q": q})


def _builder(
    request: HttpRequest, *, form: SegmentForm, segment: Segment | None, status: int = 200
) -> HttpResponse:
    raw = form.data.get("definition") if form.is_bound else None
    definition = (
        raw
        if isinstance(raw, str) and raw
        else json.dumps(segment.definition if segment else EMPTY_DEFINITION)
    )
    context = {
        "form": form,
        "segment": segment,
        "definition": definition,
        "vocabulary": _vocabulary(exclude=segment.pk if segment else None),
        # What names it (the delete button is refused while anything does; said before it is pressed).
        "uses": segment_uses(segment_id=segment.pk) if segment is not None else [],
    }
    return render(request, "crm/segment_builder.html", context, status=status)


def _save(request: HttpRequest, segment: Segment | None) -> HttpResponse:
    form = SegmentForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            saved = segment_save(
                name=data["name"],
                description=data["description"],
                definition=data["definition"],
                tracked=data["tracked"],
                by=getattr(request.user, "email", ""),
                segment=segment,
            )
        except SegmentInvalid as invalid:
            for error in invalid.errors:
                form.add_error(None, error)
        else:
            messages.success(request, _("Segment saved."))
            return redirect("segment-detail", pk=saved.pk)
    return _builder(request, form=form, segment=segment, status=422)


def segment_new(request: HttpRequest) -> HttpResponse:
    segment_access(user=request.user, write=True)
    if request.method == "POST":
        return _save(request, None)
    return _builder(request, form=SegmentForm(), segment=None)


def segment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method == "POST":
        return _save(request, segment_get(user=request.user, pk=pk, write=True))
    segment = segment_get(user=request.user, pk=pk)
    form = SegmentForm(
        initial={"name": segment.name, "description": segment.description, "tracked": segment.tracked}
    )
    return _builder(request, form=form, segment=segment)


@post_or_redirect("segment-list")
def segment_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    segment = segment_get(user=request.user, pk=pk, write=True)
    try:
        segment_delete(segment=segment)
    except SegmentInUse as in_use:
        messages.error(request, in_use.message)
        return redirect("segment-detail", pk=segment.pk)
    messages.success(request, _("Segment “%(name)s” deleted.") % {"name": segment.name})
    return redirect("segment-list")


@require_POST
def segment_preview(request: HttpRequest) -> HttpResponse:
    """The builder's live count and sample (htmx, as the conditions change); reads only."""
    segment_access(user=request.user)
    context: dict[str, Any] = {"errors": []}
    try:
        raw = request.POST.get("definition", "")
        if len(raw) > DEFINITION_MAX_CHARS:
            raise ValueError
        definition = json.loads(raw)
    except ValueError:
        context["errors"] = [_("The segment's conditions are not in the expected format.")]
    else:
        try:
            context["count"] = segment_count(definition=definition)
            context["sample"] = segment_sample(definition=definition)
        except SegmentInvalid as invalid:
            context["errors"] = invalid.errors
    return render(request, "crm/_segment_preview.html", context)
