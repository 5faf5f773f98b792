"""Journey pages: the list (new from a ready-made journey or blank), a journey's page (the flow
diagram with each step's counts, publish / pause / resume / archive, the draft's editor, the
results) and the affiliate page's panel (registered in crm.panels from CampaignsConfig.ready)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from campaigns.access import journey_get
from campaigns.journey_presets import PRESETS
from campaigns.models import Journey, JourneyStatus, ReentryRule
from campaigns.selectors.journey_editor import (
    draft_errors,
    draft_steps,
    draft_triggers,
    editor_choices,
    step_kind_labels,
    trigger_kind_labels,
)
from campaigns.selectors.journeys import (
    affiliate_enrollments,
    journey_diagram,
    journey_list,
    journey_results,
    journey_step_counts,
    journey_versions,
)
from campaigns.services.journeys import (
    journey_archive,
    journey_from_preset,
    journey_pause,
    journey_publish,
    journey_resume,
    journey_save,
)
from tenants.access import udn_write_required

#: A blank journey starts empty: the editor adds its trigger and steps.
BLANK_GRAPH: dict[str, Any] = {"triggers": [], "steps": []}


def journey_list_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "campaigns/journeys/journey_list.html",
        {"journeys": journey_list(), "presets": PRESETS.values(), "statuses": dict(JourneyStatus.choices)},
    )


@udn_write_required
@require_POST
def journey_new(request: HttpRequest) -> HttpResponse:
    preset = request.POST.get("preset", "")
    by = request.user.get_username()
    if preset:
        try:
            journey = journey_from_preset(key=preset, by=by)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect("journey-list")
    else:
        journey = journey_save(name=_("New journey"), graph=BLANK_GRAPH, by=by)
    return redirect("journey-detail", pk=journey.pk)


def journey_detail(request: HttpRequest, pk: int) -> HttpResponse:
    journey = journey_get(user=request.user, pk=pk)
    return render(
        request,
        "campaigns/journeys/journey_detail.html",
        journey_detail_context(request=request, journey=journey),
    )


def journey_detail_context(*, request: HttpRequest, journey: Journey) -> dict[str, Any]:
    """The journey page: the shown version's diagram with its counts, the results and, for roles
    that write, the draft's editor (its diagram, steps, triggers, settings, the JSON)."""
    versions = journey_versions(journey=journey)
    shown = versions[0] if versions else None
    wanted = request.GET.get("version")
    if wanted and wanted.isdigit():
        shown = next((v for v in versions if v.number == int(wanted)), shown)
    graph = shown.graph if shown else journey.draft_graph
    counts = journey_step_counts(journey=journey, version=shown) if shown else None
    draft = journey.draft_graph if isinstance(journey.draft_graph, dict) else {}
    return {
        "journey": journey,
        "versions": versions,
        "shown": shown,
        "diagram": journey_diagram(graph=graph, counts=counts),
        "draft_diagram": journey_diagram(graph=draft, counts=None),
        "counts": counts or {},
        "draft_json": json.dumps(journey.draft_graph, indent=2, ensure_ascii=False),
        "draft_errors": draft_errors(journey=journey),
        "draft_steps": draft_steps(graph=draft),
        "draft_triggers": draft_triggers(graph=draft),
        "step_kinds": step_kind_labels(),
        "trigger_kinds": trigger_kind_labels(),
        "event_types": editor_choices(graph={}).event_types,
        "results": journey_results(journey=journey) if versions else None,
        "reentry_choices": ReentryRule.choices,
        "settings_errors": {},
    }


def journey_counts(request: HttpRequest, pk: int) -> HttpResponse:
    """The diagram's counts, polled by the page (htmx-free JSON: the diagram updates its labels)."""
    from django.http import JsonResponse

    journey = journey_get(user=request.user, pk=pk)
    versions = journey_versions(journey=journey)
    wanted = request.GET.get("version")
    shown = next(
        (v for v in versions if wanted and str(v.number) == wanted), versions[0] if versions else None
    )
    counts = journey_step_counts(journey=journey, version=shown) if shown else {}
    return JsonResponse({step: vars(count) for step, count in counts.items()})


@require_POST
def journey_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The journey's settings (name, goal, holdout, re-entry) or, from the "Avançado" view, its
    whole graph as JSON; a field left out keeps its value. Errors are shown beside the fields."""
    journey = journey_get(user=request.user, pk=pk, write=True)
    post = request.POST
    errors: dict[str, list[str]] = {}
    graph: Any = journey.draft_graph
    if "graph" in post:
        try:
            graph = json.loads(post["graph"])
        except json.JSONDecodeError as error:
            errors["graph"] = [_("The graph is not valid JSON: %(error)s") % {"error": error}]
        else:
            if not isinstance(graph, dict):
                errors["graph"] = [_("The journey's graph must be an object with triggers and steps.")]
    numbers: dict[str, int] = {}
    for name, current in (
        ("holdout_percent", journey.holdout_percent),
        ("reentry_days", journey.reentry_days),
    ):
        try:
            numbers[name] = int(post.get(name) or (current if name not in post else 0))
        except ValueError:
            errors[name] = [_("Enter a whole number.")]
    if not errors:
        try:
            journey_save(
                journey=journey,
                name=post.get("name", journey.name),
                description=post.get("description", journey.description),
                graph=graph,
                by=request.user.get_username(),
                goal_event=post.get("goal_event", journey.goal_event),
                holdout_percent=numbers["holdout_percent"],
                reentry=post.get("reentry", journey.reentry),
                reentry_days=numbers["reentry_days"],
            )
        except ValidationError as error:
            errors = error.message_dict if hasattr(error, "error_dict") else {"all": error.messages}
        else:
            messages.success(request, _("Draft saved. Publish it to make it the journey's new version."))
            return redirect(reverse("journey-detail", args=[journey.pk]) + "#editor")
    journey.refresh_from_db()
    context = journey_detail_context(request=request, journey=journey)
    context["settings_errors"] = errors
    if "graph" in post:
        context["draft_json"] = post["graph"]
    return render(request, "campaigns/journeys/journey_detail.html", context)


def _action(request: HttpRequest, pk: int, action: Any, done: str) -> HttpResponse:
    journey = journey_get(user=request.user, pk=pk, write=True)
    try:
        action(journey)
        messages.success(request, done)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    return redirect("journey-detail", pk=journey.pk)


@require_POST
def journey_publish_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(
        request, pk, lambda j: journey_publish(journey=j, by=request.user.get_username()), _("Published.")
    )


@require_POST
def journey_pause_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, lambda j: journey_pause(journey=j), _("Paused."))


@require_POST
def journey_resume_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, lambda j: journey_resume(journey=j), _("Resumed."))


@require_POST
def journey_archive_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, lambda j: journey_archive(journey=j), _("Archived."))


def affiliate_panel_context(*, request: HttpRequest, affiliate: Any) -> dict[str, Any] | None:
    """The affiliate page's "Jornadas" panel: each journey the affiliate is or was in, where they
    stand and the branches they took, with the reasons."""
    enrollments = affiliate_enrollments(affiliate_id=affiliate.pk)
    return {"journey_enrollments": enrollments}
