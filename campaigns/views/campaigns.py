"""Campaign pages: the list, the form (with the audience's live count), the page with its live
progress and its actions (launch, pause, resume, cancel), and the results."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from campaigns.access import campaign_get
from campaigns.forms import CampaignForm
from campaigns.models import CampaignStatus, SuppressionReason
from campaigns.selectors.campaigns import (
    audience_count,
    audience_query_clean,
    campaign_list,
    campaign_progress,
    campaign_results,
    campaign_segment,
    campaign_templates,
    goal_event_choices,
)
from campaigns.services.campaigns import (
    campaign_cancel,
    campaign_launch,
    campaign_pause,
    campaign_resume,
    campaign_save,
    campaign_unschedule,
)
from crm.channels import BY_CODE
from tenants.access import udn_write_required

LIST_PAGE_SIZE = 25
PROGRESS_TARGET = "campaign-progress"


def _time_zone() -> str:
    return connection.tenant.time_zone  # type: ignore[attr-defined]


def campaign_list_page(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "")[:200]
    status = request.GET.get("status", "")
    if status not in CampaignStatus.values:
        status = ""
    page = Paginator(campaign_list(q=q, status=status), LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "q": q,
        "status": status,
        "statuses": CampaignStatus.choices,
        "pagination_query": urlencode({k: v for k, v in (("q", q), ("status", status)) if v}),
    }
    return render(request, "campaigns/campaign_list.html", context)


def _audience_context(*, query: str, segment: Any) -> dict[str, Any]:
    """The live count's context: the filter `query` within the chosen segment (a choice's raw
    value: an id, or blank for none; an unknown one is the count's error, as on save)."""
    errors: list[str] = []
    segment_id: int | None = None
    if segment not in (None, ""):
        try:
            segment_id = int(segment)
        except (TypeError, ValueError):
            errors.append(_("The segment no longer exists."))
    count: int | None = None
    if not errors:
        try:
            count = audience_count(query=query, segment_id=segment_id)
        except ValidationError as exc:
            errors = exc.messages
    return {
        "audience_count": count,
        "errors": errors,
        "audience_query": audience_query_clean(query=query),
        "segment": campaign_segment(pk=segment_id) if segment_id is not None and not errors else None,
    }


def _form_page(
    request: HttpRequest, form: CampaignForm, campaign: Any = None, status: int = 200
) -> HttpResponse:
    audience = _audience_context(query=form["audience_query"].value() or "", segment=form["segment"].value())
    # The page shows the count, not its errors: the fields show theirs.
    context = {"form": form, "campaign": campaign, **audience, "errors": []}
    return render(request, "campaigns/campaign_form.html", context, status=status)


def _save(request: HttpRequest, campaign: Any = None) -> HttpResponse:
    form = CampaignForm(request.POST, time_zone=_time_zone())
    if form.is_valid():
        try:
            campaign = campaign_save(draft=form.to_draft(), by=request.user.get_username(), campaign=campaign)
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.message_dict.items():
                    field = {"channels": "channel_1"}.get(field, field)
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, exc.messages)
        else:
            messages.success(request, _("Campaign saved."))
            return redirect("campaign-detail", pk=campaign.pk)
    return _form_page(request, form, campaign, status=400)


@udn_write_required
def campaign_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _save(request)
    initial = {"audience_query": audience_query_clean(query=request.GET.get("audience", ""))}
    return _form_page(request, CampaignForm(initial=initial, time_zone=_time_zone()))


def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = campaign_get(user=request.user, pk=pk, write=True)
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
        messages.error(request, _("A campaign can only be changed before it starts."))
        return redirect("campaign-detail", pk=campaign.pk)
    if request.method == "POST":
        return _save(request, campaign)
    form = CampaignForm(
        initial=CampaignForm.initial_of(campaign, time_zone=_time_zone()), time_zone=_time_zone()
    )
    return _form_page(request, form, campaign)


def campaign_audience_count(request: HttpRequest) -> HttpResponse:
    """The form's live count (htmx): how many affiliates the filter typed names, within the
    saved segment chosen (if any)."""
    context = _audience_context(
        query=request.GET.get("audience_query", ""), segment=request.GET.get("segment", "")
    )
    return render(request, "campaigns/_audience_count.html", context)


def _chain(campaign: Any) -> list[dict[str, Any]]:
    templates = campaign_templates(campaign=campaign)
    return [
        {
            "code": code,
            "label": BY_CODE[code].label if code in BY_CODE else code,
            "template": templates.get(code),
        }
        for code in campaign.channels
    ]


def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = campaign_get(user=request.user, pk=pk)
    progress = campaign_progress(campaign=campaign)
    context = {"campaign": campaign, "progress": progress}
    htmx = getattr(request, "htmx", None)
    if htmx and htmx.target == PROGRESS_TARGET:
        return render(request, "campaigns/_progress.html", context)
    goals = dict(goal_event_choices())
    context |= {
        "chain": _chain(campaign),
        "goal_label": goals.get(campaign.goal_event, campaign.goal_event),
        "segment": campaign_segment(pk=campaign.segment_id) if campaign.segment_id is not None else None,
    }
    return render(request, "campaigns/campaign_detail.html", context)


def _action(request: HttpRequest, pk: int, action: Any, done: str) -> HttpResponse:
    campaign = campaign_get(user=request.user, pk=pk, write=True)
    try:
        action(campaign=campaign)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done)
    return redirect("campaign-detail", pk=campaign.pk)


@require_POST
def campaign_launch_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, campaign_launch, _("Campaign launched."))


@require_POST
def campaign_pause_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, campaign_pause, _("Campaign paused: its messages wait until you resume it."))


@require_POST
def campaign_resume_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, campaign_resume, _("Campaign resumed."))


@require_POST
def campaign_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(
        request, pk, campaign_cancel, _("Campaign cancelled: the messages not yet sent will not go.")
    )


@require_POST
def campaign_unschedule_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, campaign_unschedule, _("The campaign is a draft again."))


def campaign_results_page(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = campaign_get(user=request.user, pk=pk)
    results = campaign_results(campaign=campaign)
    reasons = dict(SuppressionReason.choices)
    labels = {code: str(spec.label) for code, spec in BY_CODE.items()}
    chart = {
        "labels": [labels.get(c.channel, c.channel) for c in results.channels],
        "steps": [
            {"key": "sent", "label": _("Sent"), "values": [c.sent for c in results.channels]},
            {"key": "delivered", "label": _("Delivered"), "values": [c.delivered for c in results.channels]},
            {"key": "read", "label": _("Read"), "values": [c.read for c in results.channels]},
            {"key": "clicked", "label": _("Clicked"), "values": [c.clicked for c in results.channels]},
            {"key": "failed", "label": _("Failed"), "values": [c.failed for c in results.channels]},
        ],
    }
    goals = dict(goal_event_choices())
    conversion: dict[str, float | None] = {}
    if results.conversion is not None:
        c = results.conversion
        conversion = {
            "treated_pct": None if c.treated_rate is None else 100 * c.treated_rate,
            "holdout_pct": None if c.holdout_rate is None else 100 * c.holdout_rate,
        }
        if c.interval is not None:
            conversion |= {
                "diff_pp": 100 * c.interval.difference,
                "low_pp": 100 * c.interval.low,
                "high_pp": 100 * c.interval.high,
            }
    context = {
        "campaign": campaign,
        "results": results,
        "conversion": conversion,
        "channel_rows": [(labels.get(c.channel, c.channel), c) for c in results.channels],
        "reasons": [(reasons.get(code, code), n) for code, n in results.suppressed_by_reason],
        "chart": chart,
        "goal_label": goals.get(campaign.goal_event, campaign.goal_event),
    }
    return render(request, "campaigns/campaign_results.html", context)
