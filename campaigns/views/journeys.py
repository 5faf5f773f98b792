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
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from campaigns.access import journey_get
from campaigns.journey_presets import PRESETS
from campaigns.models import JourneyStatus, ReentryRule
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

BLANK_GRAPH: dict[str, Any] = {
    "triggers": [{"type": "manual", "start": "send"}],
    "steps": [
        {"id": "send", "type": "send", "channels": ["email"], "templates": {"email": ""}, "next": None}
    ],
}


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
    versions = journey_versions(journey=journey)
    shown = versions[0] if versions else None
    wanted = request.GET.get("version")
    if wanted and wanted.isdigit():
        shown = next((v for v in versions if v.number == int(wanted)), shown)
    graph = shown.graph if shown else journey.draft_graph
    counts = journey_step_counts(journey=journey, version=shown) if shown else {}
    context = {
        "journey": journey,
        "versions": versions,
        "shown": shown,
        "diagram": journey_diagram(graph=graph, counts=counts),
        "counts": counts,
        "draft_json": json.dumps(journey.draft_graph, indent=2, ensure_ascii=False),
        "results": journey_results(journey=journey) if versions else None,
        "reentry_choices": ReentryRule.choices,
        "errors": [],
    }
    return render(request, "campaigns/journeys/journey_detail.html", context)


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
    journey = journey_get(user=request.user, pk=pk, write=True)
    errors: list[str] = []
    try:
        graph = json.loads(request.POST.get("graph", ""))
    except json.JSONDecodeError as error:
        graph, errors = None, [_("The graph is not valid JSON: %(error)s") % {"error": error}]
    if not errors:
        try:
            journey_save(
                journey=journey,
                name=request.POST.get("name", ""),
                description=request.POST.get("description", ""),
                graph=graph or {},
                by=request.user.get_username(),
                goal_event=request.POST.get("goal_event", ""),
                holdout_percent=int(request.POST.get("holdout_percent") or 0),
                reentry=request.POST.get("reentry", ReentryRule.NEVER),
                reentry_days=int(request.POST.get("reentry_days") or 0),
            )
            messages.success(request, _("Draft saved. Publish it to make it the journey's new version."))
            return redirect("journey-detail", pk=journey.pk)
        except (ValidationError, ValueError) as error:
            errors = list(getattr(error, "messages", [str(error)]))
    for problem in errors:
        messages.error(request, problem)
    return redirect("journey-detail", pk=journey.pk)


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
