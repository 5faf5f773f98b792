"""The journey editor (htmx): a form for each kind of step and trigger, loaded into the editor's
panel from the "add" buttons, the step list or a click on the diagram; saved through
campaigns.services.journey_editor, whose errors (journey_graph's checks) come back beside their
fields. Without htmx the same URLs answer with the whole journey page. Every view here needs a
role that may write (campaigns.access.journey_get(write=True)), reading the forms included."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from campaigns.access import journey_get
from campaigns.journey_forms import STEP_FORMS, TRIGGER_FORMS, EditorForm
from campaigns.journey_graph import steps_by_id
from campaigns.models import Journey
from campaigns.selectors.journey_editor import (
    editor_choices,
    step_kind,
    step_kind_labels,
    trigger_kind_labels,
)
from campaigns.services.journey_editor import (
    journey_positions_save,
    journey_step_delete,
    journey_step_put,
    journey_trigger_delete,
    journey_trigger_put,
)


def _draft(journey: Journey) -> dict[str, Any]:
    return journey.draft_graph if isinstance(journey.draft_graph, dict) else {}


def _done(request: HttpRequest, journey: Journey, message: str) -> HttpResponse:
    messages.success(request, message)
    if getattr(request, "htmx", False):
        # The journey's page again, where it was scrolled to (a redirect to the same address
        # with "#editor" would only scroll, not reload).
        return HttpResponseClientRefresh()
    return redirect(reverse("journey-detail", args=[journey.pk]) + "#editor")


def _form_response(
    request: HttpRequest, journey: Journey, *, form: EditorForm, action: str, title: str, delete: str = ""
) -> HttpResponse:
    context = {"form": form, "action": action, "title": title, "delete_url": delete, "journey": journey}
    if getattr(request, "htmx", False):
        return render(request, "campaigns/journeys/_editor_form.html", context)
    from campaigns.views.journeys import journey_detail_context

    return render(
        request,
        "campaigns/journeys/journey_detail.html",
        journey_detail_context(request=request, journey=journey) | {"editor": context},
    )


def _save(form: EditorForm, action: Any) -> bool:
    """Run the service with the form's output; its errors go beside the fields. True: saved."""
    if not form.is_valid():
        return False
    try:
        action()
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            form.graph_errors_add(error.message_dict)
        else:
            form.graph_errors_add({"": list(error.messages)})
        return False
    return True


@require_http_methods(["GET", "POST"])
def journey_step_new(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    journey = journey_get(user=request.user, pk=pk, write=True)
    form_class = STEP_FORMS.get(kind)
    if form_class is None:
        raise Http404
    graph = _draft(journey)
    choices = editor_choices(graph=graph)
    steps = steps_by_id(graph)
    suggested = next(
        f"{kind.replace('_', '-')}-{n}"
        for n in range(1, 1000)
        if f"{kind.replace('_', '-')}-{n}" not in steps
    )
    initial = {"id": suggested, "after": request.GET.get("after", "")}
    form = form_class(request.POST or None, choices=choices, initial=initial)
    if request.method == "POST" and _save(
        form,
        lambda: journey_step_put(
            journey=journey, step=form.to_step(), after=form.cleaned_data.get("after") or ""
        ),
    ):
        return _done(
            request, journey, _("Step “%(id)s” added to the draft.") % {"id": form.cleaned_data["id"]}
        )
    return _form_response(
        request,
        journey,
        form=form,
        action=reverse("journey-step-new", args=[journey.pk, kind]),
        title=_("New step: %(kind)s") % {"kind": step_kind_labels()[kind]},
    )


@require_http_methods(["GET", "POST"])
def journey_step_edit(request: HttpRequest, pk: int, step_id: str) -> HttpResponse:
    journey = journey_get(user=request.user, pk=pk, write=True)
    graph = _draft(journey)
    current = steps_by_id(graph).get(step_id)
    if current is None or step_kind(current) not in STEP_FORMS:
        raise Http404
    kind = step_kind(current)
    form = STEP_FORMS[kind](
        request.POST or None, choices=editor_choices(graph=graph, editing=step_id), current=current
    )
    if request.method == "POST" and _save(
        form, lambda: journey_step_put(journey=journey, step=form.to_step(), replaces=step_id)
    ):
        return _done(request, journey, _("Step “%(id)s” saved.") % {"id": step_id})
    return _form_response(
        request,
        journey,
        form=form,
        action=reverse("journey-step-edit", args=[journey.pk, step_id]),
        title=_("Step “%(id)s”: %(kind)s") % {"id": step_id, "kind": step_kind_labels()[kind]},
        delete=reverse("journey-step-delete", args=[journey.pk, step_id]),
    )


@require_POST
def journey_step_delete_view(request: HttpRequest, pk: int, step_id: str) -> HttpResponse:
    journey = journey_get(user=request.user, pk=pk, write=True)
    try:
        journey_step_delete(journey=journey, step_id=step_id)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("journey-detail", pk=journey.pk)
    return _done(request, journey, _("Step “%(id)s” deleted.") % {"id": step_id})


@require_http_methods(["GET", "POST"])
def journey_trigger_new(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    journey = journey_get(user=request.user, pk=pk, write=True)
    form_class = TRIGGER_FORMS.get(kind)
    if form_class is None:
        raise Http404
    form = form_class(request.POST or None, choices=editor_choices(graph=_draft(journey)))
    if request.method == "POST" and _save(
        form, lambda: journey_trigger_put(journey=journey, trigger=form.to_trigger())
    ):
        return _done(request, journey, _("Trigger added to the draft."))
    return _form_response(
        request,
        journey,
        form=form,
        action=reverse("journey-trigger-new", args=[journey.pk, kind]),
        title=_("New trigger: %(kind)s") % {"kind": trigger_kind_labels()[kind]},
    )


@require_http_methods(["GET", "POST"])
def journey_trigger_edit(request: HttpRequest, pk: int, index: int) -> HttpResponse:
    journey = journey_get(user=request.user, pk=pk, write=True)
    graph = _draft(journey)
    triggers = graph.get("triggers") or []
    if not 0 <= index < len(triggers) or not isinstance(triggers[index], dict):
        raise Http404
    current = triggers[index]
    form_class = TRIGGER_FORMS.get(str(current.get("type")))
    if form_class is None:
        raise Http404
    form = form_class(request.POST or None, choices=editor_choices(graph=graph), current=current)
    if request.method == "POST" and _save(
        form, lambda: journey_trigger_put(journey=journey, trigger=form.to_trigger(), index=index)
    ):
        return _done(request, journey, _("Trigger saved."))
    return _form_response(
        request,
        journey,
        form=form,
        action=reverse("journey-trigger-edit", args=[journey.pk, index]),
        title=_("Trigger %(n)s: %(kind)s") % {"n": index + 1, "kind": trigger_kind_labels()[form.kind]},
        delete=reverse("journey-trigger-delete", args=[journey.pk, index]),
    )


@require_POST
def journey_trigger_delete_view(request: HttpRequest, pk: int, index: int) -> HttpResponse:
    journey = journey_get(user=request.user, pk=pk, write=True)
    try:
        journey_trigger_delete(journey=journey, index=index)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("journey-detail", pk=journey.pk)
    return _done(request, journey, _("Trigger deleted."))


@require_POST
def journey_positions(request: HttpRequest, pk: int) -> HttpResponse:
    """The diagram's node positions after a drag ({node id: {x, y}}, JSON body)."""
    journey = journey_get(user=request.user, pk=pk, write=True)
    try:
        positions = json.loads(request.body or b"{}")
        if not isinstance(positions, dict):
            raise ValueError
        journey_positions_save(journey=journey, positions=positions)
    except (ValueError, ValidationError):
        return JsonResponse(
            {"error": _('A position on the diagram is {"x": number, "y": number}.')}, status=400
        )
    return JsonResponse({"saved": len(positions)})
