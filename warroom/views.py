"""The shared space's coordination pages: calendar, joint campaigns, War Room board. Thin: every
view loads through warroom.access (the one door) and calls one service or selector."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import caches
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.dateparse import parse_date
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from crm.channels import CHANNELS
from tenants.selectors import udn_list
from tenants.urlhelpers import next_url
from warroom.access import (
    Viewer,
    action_comment_check,
    action_get,
    actions_visible,
    edit_check,
    joint_campaign_get,
    joint_source_for_decision,
    viewer_for,
)
from warroom.changes import CACHE_SECONDS
from warroom.forms import (
    ActionForm,
    CalendarSettingsForm,
    ColumnForm,
    CrmDayForm,
    DecisionForm,
    JointCampaignForm,
    MoveForm,
)
from warroom.models import BoardColumn, CalendarFeed, ChecklistItem
from warroom.selectors.calendar import (
    EDITABLE_STATUSES,
    Entry,
    Filters,
    Kind,
    calendar_conflicts_summary,
    calendar_entries,
    calendar_entry_detail,
    calendar_events_json,
    calendar_page_key,
    calendar_udn_choices,
    channel_labels,
    conflicts_for_plan,
    kind_labels,
    status_labels,
)
from warroom.services import board, joint
from warroom.services.calendar import calendar_settings_save
from warroom.services.joint import JointDraft


def _viewer(request: HttpRequest) -> Viewer:
    return viewer_for(user=request.user)


def _is_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


# --- calendar -------------------------------------------------------------------------------------


def _month(request: HttpRequest) -> date:
    raw = request.GET.get("month", "")
    try:
        year, month = (int(part) for part in raw.split("-"))
        return date(year, month, 1)
    except ValueError:
        return timezone.localdate().replace(day=1)


def _month_window(first: date) -> tuple[date, date]:
    start = first - timedelta(days=(first.weekday() + 1) % 7)  # the Sunday the grid starts on
    return start, start + timedelta(days=42)


def _filters(request: HttpRequest) -> Filters:
    def ints(name: str) -> frozenset[int]:
        return frozenset(int(v) for v in request.GET.getlist(name) if v.isdigit())

    def strs(name: str) -> frozenset[str]:
        return frozenset(v for v in request.GET.getlist(name) if v)

    return Filters(udn_ids=ints("udn"), channels=strs("channel"), kinds=strs("kind"), statuses=strs("status"))


def _aside(
    request: HttpRequest, *, viewer: Viewer, start: date, end: date, filters: Filters
) -> dict[str, Any]:
    """What the page shows the same to everyone of the viewer's scope: the conflicts list rendered
    (a busy month lists 200, which cost more to render than the rest of the page), the fatigue
    window and the UDN filter's choices. One cache read on a warm view, under the calendar's
    version (any change, a UDN's too, bumps it), the scope, window, filters and language: the
    pickled conflicts and the UDN queries only when it changed."""
    cache = caches["global"]
    key = calendar_page_key(viewer=viewer, start=start, end=end, filters=filters)
    aside = cache.get(key)
    if aside is None:
        summary = calendar_conflicts_summary(viewer=viewer, start=start, end=end, filters=filters)
        aside = {
            "conflicts_html": render_to_string("warroom/_conflicts.html", summary, request=request),
            "conflict_days": summary["conflict_days"],
            "udns": calendar_udn_choices(viewer=viewer),
        }
        cache.set(key, aside, CACHE_SECONDS)
    return {**aside, "conflicts_html": mark_safe(aside["conflicts_html"])}  # noqa: S308 (our template's output)


def _table_rows(entries: list[Entry]) -> list[dict[str, object]]:
    """The table view's rows: each entry with its kind, status and channel as people read them."""
    kinds, statuses, channels = kind_labels(), status_labels(), channel_labels()
    return [
        {
            "e": e,
            "kind": kinds.get(e.kind, e.kind),
            "status": statuses.get(e.status, e.status),
            "channel": channels.get(e.channel, e.channel),
        }
        for e in sorted(entries, key=lambda e: (e.start, e.title))
    ]


@login_required
@require_GET
def calendar_page(request: HttpRequest) -> HttpResponse:
    """The calendar's shell: filters, the conflicts list (cached) and, on request, the table. The
    calendar's events come from calendar_events (JSON), the one place that serialises them."""
    viewer = _viewer(request)
    first = _month(request)
    start, end = _month_window(first)
    filters = _filters(request)
    list_view = request.GET.get("view") == "list"
    entries = calendar_entries(viewer=viewer, start=start, end=end, filters=filters)[0] if list_view else []
    aside = _aside(request, viewer=viewer, start=start, end=end, filters=filters)
    feed = CalendarFeed.objects.filter(user=viewer.user).first()
    return render(
        request,
        "warroom/calendar.html",
        {
            "viewer": viewer,
            "month": first,
            "prev_month": (first - timedelta(days=1)).replace(day=1),
            "next_month": (first + timedelta(days=32)).replace(day=1),
            # The table of every entry (the keyboard's and screen readers' view) on request: a busy
            # month has thousands, which the calendar shows from the events alone.
            "list_view": list_view,
            "rows": _table_rows(entries),
            "conflicts_html": aside["conflicts_html"],
            "settings_form": CalendarSettingsForm(initial={"conflict_days": aside["conflict_days"]})
            if viewer.may_edit
            else None,
            "udns": aside["udns"],
            "channels": CHANNELS,
            "kinds": list(kind_labels().items()),
            "statuses": sorted(status_labels().items(), key=lambda item: item[1]),
            "filters": filters,
            "query": request.GET.urlencode(),
            "feed_url": request.build_absolute_uri(reverse("warroom:feed", args=[feed.token]))
            if feed
            else "",
        },
    )


def _window(request: HttpRequest) -> tuple[date, date]:
    """The date window the calendar shows (FullCalendar's start and end), a month's grid by default."""
    start = parse_date(request.GET.get("start", "")[:10]) or _month_window(_month(request))[0]
    end = parse_date(request.GET.get("end", "")[:10]) or start + timedelta(days=42)
    return start, min(end, start + timedelta(days=400))


@login_required
@require_GET
def calendar_events(request: HttpRequest) -> HttpResponse:
    viewer = _viewer(request)
    start, end = _window(request)
    # Kept gzipped (warroom.selectors.calendar); sent so to those who accept it. Only here, not
    # through GZipMiddleware: the pages carry CSRF tokens beside reflected input (BREACH).
    gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
    body = calendar_events_json(
        viewer=viewer, start=start, end=end, filters=_filters(request), gzipped=gzipped
    )
    response = HttpResponse(body, content_type="application/json")
    if gzipped:
        response["Content-Encoding"] = "gzip"
    patch_vary_headers(response, ("Accept-Encoding",))
    return response


@login_required
@require_GET
def calendar_entry(request: HttpRequest, key: str) -> HttpResponse:
    """One entry's details and every conflict it raises (the events carry only their count): the
    calendar's popover. The same window as the events it was clicked among, so the same conflicts."""
    viewer = _viewer(request)
    start, end = _window(request)
    entry = calendar_entry_detail(viewer=viewer, start=start, end=end, key=key)
    if entry is None:
        raise Http404
    return render(
        request,
        "warroom/_entry.html",
        {
            "e": entry,
            "kind": kind_labels().get(entry.kind, entry.kind),
            "status": status_labels().get(entry.status, entry.status),
            "channel": channel_labels().get(entry.channel, entry.channel),
            # The keyboard's way to reschedule from the calendar (what a drag does), back to it.
            "movable": entry.editable,
            "deadline": entry.kind == Kind.DEADLINE,
            "day_before": entry.start - timedelta(days=1),
            "day_after": entry.start + timedelta(days=1),
            "next": next_url(request, ""),
        },
    )


@login_required
@require_GET
def calendar_conflicts(request: HttpRequest) -> HttpResponse:
    viewer = _viewer(request)
    start, end = _month_window(_month(request))
    return HttpResponse(
        _aside(request, viewer=viewer, start=start, end=end, filters=_filters(request))["conflicts_html"]
    )


@login_required
@require_POST
def calendar_settings(request: HttpRequest) -> HttpResponse:
    """The coordinators' calendar settings (the fatigue window N)."""
    viewer = _viewer(request)
    edit_check(viewer)
    form = CalendarSettingsForm(request.POST)
    if form.is_valid():
        calendar_settings_save(conflict_days=form.cleaned_data["conflict_days"], by=viewer.user)
        messages.success(request, _("Calendar settings saved."))
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect("warroom:calendar")


@login_required
@require_POST
def calendar_move(request: HttpRequest) -> HttpResponse:
    """Reschedule a joint campaign or an action's deadline (drag on the calendar, or the date field
    and the day buttons). Conflicts are shown before saving: without `confirm` the move is only
    saved when it raises none."""
    viewer = _viewer(request)
    edit_check(viewer)
    form = MoveForm(request.POST)
    if not form.is_valid():
        if _is_json(request):
            return JsonResponse({"saved": False, "errors": form.errors}, status=400)
        raise Http404
    key, day, confirm = form.cleaned_data["key"], form.cleaned_data["date"], form.cleaned_data["confirm"]
    kind, _sep, pk_text = key.rpartition("-")
    if not pk_text.isdigit():
        raise Http404
    pk = int(pk_text)
    if kind == "joint":
        campaign = joint_campaign_get(viewer, pk, edit=True)
        if campaign.status not in EDITABLE_STATUSES:
            raise PermissionDenied(_("A campaign can only be moved before it is launched."))
        length = campaign.end_date - campaign.start_date
        warnings = conflicts_for_plan(
            viewer=viewer,
            campaign=campaign,
            channel=campaign.channel,
            start=day,
            end=day + length,
            udn_ids=list(campaign.sources.values_list("udn_id", flat=True)),
        )
        if warnings and not confirm:
            return _move_refused(
                request,
                key=key,
                day=day,
                warnings=warnings,
                back=reverse("warroom:campaign-detail", args=[pk]),
            )
        joint.joint_campaign_move(campaign=campaign, start=day, by=viewer.user)
        back = reverse("warroom:campaign-detail", args=[pk])
    elif kind == "deadline":
        action = action_get(viewer, pk, edit=True)
        board.action_deadline_set(action=action, deadline=day, by=viewer.user)
        warnings = []
        back = reverse("warroom:action-detail", args=[pk])
    else:
        raise PermissionDenied(_("This entry cannot be moved here."))
    if _is_json(request):
        return JsonResponse({"saved": True, "warnings": warnings})
    messages.success(request, _("Moved to %(day)s.") % {"day": day.strftime("%d/%m/%Y")})
    return redirect(next_url(request, back))


def _move_refused(
    request: HttpRequest, *, key: str, day: date, warnings: list[str], back: str
) -> HttpResponse:
    if _is_json(request):
        return JsonResponse({"saved": False, "warnings": warnings})
    return render(
        request, "warroom/move_confirm.html", {"key": key, "day": day, "warnings": warnings, "back": back}
    )


@login_required
@require_POST
def feed_reset(request: HttpRequest) -> HttpResponse:
    """Create the person's secret calendar URL, or replace it (the old one stops working)."""
    viewer = _viewer(request)
    CalendarFeed.objects.filter(user=viewer.user).delete()
    CalendarFeed.objects.create(user=viewer.user)
    messages.success(request, _("Your calendar address is new; the previous one no longer works."))
    return redirect("warroom:calendar")


@require_GET
def feed(request: HttpRequest, token: str) -> HttpResponse:
    from warroom.ical import feed_ics

    row = CalendarFeed.objects.select_related("user").filter(token=token).first()
    if row is None or not row.user.is_active:
        raise Http404
    viewer = viewer_for(user=row.user)
    body = feed_ics(viewer=viewer, host=request.get_host())
    return HttpResponse(body, content_type="text/calendar; charset=utf-8")


# --- joint campaigns --------------------------------------------------------------------------------


def _draft(form: JointCampaignForm) -> JointDraft:
    data = form.cleaned_data
    return JointDraft(
        kind=data["kind"],
        name=data["name"],
        promoting_udn=data["promoting_udn"],
        product=data["product"],
        channel=data["channel"],
        subject=data["subject"],
        body=data["body"],
        start_date=data["start_date"],
        end_date=data["end_date"],
        goal=data["goal"],
        budget=data["budget"],
        sources=list(data["sources"]),
    )


@login_required
def campaign_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    viewer = _viewer(request)
    edit_check(viewer)
    campaign = joint_campaign_get(viewer, pk, edit=True) if pk is not None else None
    warnings: list[str] = []
    if request.method == "POST":
        form = JointCampaignForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            warnings = conflicts_for_plan(
                viewer=viewer,
                campaign=campaign,
                channel=data["channel"],
                start=data["start_date"],
                end=max(data["end_date"], data["start_date"]),
                udn_ids=[u.pk for u in data["sources"]],
            )
            if not warnings or data["confirm"]:
                try:
                    campaign = joint.joint_campaign_save(
                        draft=_draft(form), by=viewer.user, campaign=campaign
                    )
                except ValidationError as exc:
                    for field, errors in exc.message_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                else:
                    messages.success(request, _("Campaign saved."))
                    return redirect("warroom:campaign-detail", campaign.pk)
    else:
        initial: dict[str, object] = {}
        if campaign is not None:
            initial = JointCampaignForm.initial_from(campaign)
        elif day := parse_date(request.GET.get("start", "")):
            initial = {"start_date": day, "end_date": day}
        form = JointCampaignForm(initial=initial)
    return render(
        request, "warroom/campaign_form.html", {"form": form, "campaign": campaign, "warnings": warnings}
    )


@login_required
@require_GET
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    viewer = _viewer(request)
    campaign = joint_campaign_get(viewer, pk)
    sources = list(campaign.sources.select_related("udn", "decided_by"))
    length = campaign.end_date - campaign.start_date
    return render(
        request,
        "warroom/campaign_detail.html",
        {
            "viewer": viewer,
            "campaign": campaign,
            "sources": [
                {
                    "source": s,
                    "may_decide": viewer.may_decide_for(s.udn_id),
                    "form": DecisionForm(initial={"audience_query": s.audience_query, "comment": s.comment}),
                }
                for s in sources
            ],
            "movable": viewer.may_edit and campaign.status in EDITABLE_STATUSES,
            "move_key": f"joint-{campaign.pk}",
            "day_before": campaign.start_date - timedelta(days=1),
            "day_after": campaign.start_date + timedelta(days=1),
            "length_days": length.days + 1,
            "activity": campaign.activity.select_related("actor")[:50],
            "actions": actions_visible(viewer).filter(campaign=campaign),
        },
    )


@login_required
@require_POST
def campaign_transition(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    viewer = _viewer(request)
    campaign = joint_campaign_get(viewer, pk, edit=True)
    try:
        if step == "propose":
            joint.joint_campaign_propose(campaign=campaign, by=viewer.user)
        elif step == "launch":
            joint.joint_campaign_launch(campaign=campaign, by=viewer.user)
        elif step == "refresh":
            joint.joint_results_refresh(campaign=campaign)
        else:
            raise Http404
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    return redirect("warroom:campaign-detail", pk)


@login_required
@require_POST
def source_decide(request: HttpRequest, pk: int, source_pk: int) -> HttpResponse:
    viewer = _viewer(request)
    source = joint_source_for_decision(viewer, campaign_pk=pk, source_pk=source_pk)
    form = DecisionForm(request.POST)
    form.is_valid()
    approve = request.POST.get("decision") == "approve"
    try:
        joint.joint_source_decide(
            source=source,
            approve=approve,
            comment=form.cleaned_data.get("comment", ""),
            audience_query=form.cleaned_data.get("audience_query", ""),
            by=viewer.user,
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("Decision recorded."))
    return redirect("warroom:campaign-detail", pk)


# --- the board ----------------------------------------------------------------------------------------


def _board_context(request: HttpRequest, viewer: Viewer) -> dict[str, object]:
    columns = board.board_columns_ensure()
    actions = actions_visible(viewer).select_related("owner", "column").prefetch_related("udns", "checklist")
    if request.GET.get("mine"):
        actions = actions.filter(owner=viewer.user)
    if (udn := request.GET.get("udn", "")).isdigit():
        actions = actions.filter(udns__pk=int(udn))
    today = timezone.localdate()
    if request.GET.get("overdue"):
        actions = actions.filter(deadline__lt=today, column__is_done=False)
    by_column: dict[int, list[object]] = {c.pk: [] for c in columns}
    for action in actions.order_by("position", "pk"):
        by_column.setdefault(action.column_id, []).append(action)
    return {
        "viewer": viewer,
        "columns": [
            {
                "column": c,
                "actions": by_column[c.pk],
                "over": c.wip_limit is not None and len(by_column[c.pk]) > c.wip_limit,
            }
            for c in columns
        ],
        "all_columns": columns,
        "today": today,
        "version": board.board_version(),
        "query": request.GET.urlencode(),
        "udns": udn_list() if viewer.coordinator else udn_list().filter(pk__in=viewer.udn_ids),
    }


@login_required
@require_GET
def board_page(request: HttpRequest) -> HttpResponse:
    viewer = _viewer(request)
    return render(request, "warroom/board.html", _board_context(request, viewer))


@login_required
@require_GET
def board_fragment(request: HttpRequest) -> HttpResponse:
    """The board's columns, for htmx polling: 204 (nothing to swap) while nothing changed."""
    viewer = _viewer(request)
    if request.GET.get("v", "") == str(board.board_version()):
        return HttpResponse(status=204)
    return render(request, "warroom/_board.html", _board_context(request, viewer))


def _action_draft(form: ActionForm, *, column: BoardColumn | None) -> board.ActionDraft:
    data = form.cleaned_data
    return board.ActionDraft(
        title=data["title"],
        description=data["description"],
        team=data["team"],
        udns=list(data["udns"]),
        owner=data["owner"],
        deadline=data["deadline"],
        campaign=data["campaign"],
        column=data["column"] or column,
    )


@login_required
def action_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    viewer = _viewer(request)
    action = action_get(viewer, pk, edit=True) if pk is not None else None
    edit_check(viewer)
    if request.method == "POST":
        form = ActionForm(request.POST)
        if form.is_valid():
            try:
                action = board.action_save(
                    draft=_action_draft(form, column=None), by=viewer.user, action=action
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return redirect("warroom:action-detail", action.pk)
    else:
        initial: dict[str, object] = {}
        if action is not None:
            initial = {
                "title": action.title,
                "description": action.description,
                "team": action.team,
                "udns": list(action.udns.all()),
                "owner": action.owner,
                "deadline": action.deadline,
                "campaign": action.campaign,
                "column": action.column,
            }
        form = ActionForm(initial=initial)
    return render(request, "warroom/action_form.html", {"form": form, "action": action})


@login_required
@require_GET
def action_detail(request: HttpRequest, pk: int) -> HttpResponse:
    viewer = _viewer(request)
    action = action_get(viewer, pk)
    try:
        action_comment_check(viewer, action)
        may_comment = True
    except PermissionDenied:
        may_comment = False
    return render(
        request,
        "warroom/action_detail.html",
        {
            "viewer": viewer,
            "action": action,
            "checklist": action.checklist.all(),
            "comments": action.comments.select_related("author"),
            "activity": action.activity.select_related("actor")[:100],
            "may_comment": may_comment,
            "columns": board.board_columns_ensure(),
            "day_before": action.deadline - timedelta(days=1) if action.deadline else None,
            "day_after": action.deadline + timedelta(days=1) if action.deadline else None,
            "move_key": f"deadline-{action.pk}",
        },
    )


@login_required
@require_POST
def action_move(request: HttpRequest, pk: int) -> HttpResponse:
    viewer = _viewer(request)
    action = action_get(viewer, pk, edit=True)
    column = BoardColumn.objects.filter(pk=request.POST.get("column") or 0).first()
    if column is None:
        raise Http404
    position = request.POST.get("position", "")
    board.action_move(
        action=action, column=column, position=int(position) if position.isdigit() else None, by=viewer.user
    )
    if _is_json(request):
        return JsonResponse({"saved": True, "version": board.board_version()})
    return redirect(next_url(request, reverse("warroom:board")))


@login_required
@require_POST
def checklist_add(request: HttpRequest, pk: int) -> HttpResponse:
    viewer = _viewer(request)
    action = action_get(viewer, pk, edit=True)
    try:
        board.checklist_add(action=action, text=request.POST.get("text", ""), by=viewer.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("warroom:action-detail", pk)


@login_required
@require_POST
def checklist_toggle(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    viewer = _viewer(request)
    action = action_get(viewer, pk, edit=True)
    item = ChecklistItem.objects.filter(pk=item_pk, action=action).first()
    if item is None:
        raise Http404
    board.checklist_toggle(item=item, by=viewer.user)
    return redirect("warroom:action-detail", pk)


@login_required
@require_POST
def comment_add(request: HttpRequest, pk: int) -> HttpResponse:
    viewer = _viewer(request)
    action = action_get(viewer, pk)
    action_comment_check(viewer, action)
    try:
        board.comment_add(
            action=action,
            body=request.POST.get("body", ""),
            by=viewer.user,
            attachment=request.FILES.get("attachment"),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("warroom:action-detail", pk)


@login_required
@require_GET
def attachment(request: HttpRequest, pk: int, comment_pk: int) -> FileResponse:
    viewer = _viewer(request)
    action = action_get(viewer, pk)
    comment = action.comments.filter(pk=comment_pk).exclude(attachment="").first()
    if comment is None:
        raise Http404
    return FileResponse(
        comment.attachment.open("rb"),
        as_attachment=True,
        filename=(comment.attachment.name or "").rsplit("/", 1)[-1],
    )


@login_required
def columns_page(request: HttpRequest) -> HttpResponse:
    viewer = _viewer(request)
    edit_check(viewer)
    form = ColumnForm()
    if request.method == "POST":
        op = request.POST.get("op", "add")
        column = BoardColumn.objects.filter(pk=request.POST.get("column") or 0).first()
        try:
            if op in ("add", "save"):
                form = ColumnForm(request.POST)
                if form.is_valid():
                    board.column_save(
                        **form.cleaned_data, by=viewer.user, column=column if op == "save" else None
                    )
                    return redirect("warroom:columns")
            elif column is not None and op == "delete":
                board.column_delete(column=column, by=viewer.user)
                return redirect("warroom:columns")
            elif column is not None and op in ("left", "right"):
                board.column_shift(column=column, step=-1 if op == "left" else 1, by=viewer.user)
                return redirect("warroom:columns")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("warroom:columns")
    return render(request, "warroom/columns.html", {"columns": board.board_columns_ensure(), "form": form})


@login_required
def crm_day(request: HttpRequest) -> HttpResponse:
    viewer = _viewer(request)
    edit_check(viewer)
    form = CrmDayForm(request.POST or None, initial={"start": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        created = board.crm_day_create(
            start=form.cleaned_data["start"], udns=list(form.cleaned_data["udns"]), by=viewer.user
        )
        messages.success(
            request, _("%(count)s actions created from the CRM Day template.") % {"count": len(created)}
        )
        return redirect("warroom:board")
    return render(request, "warroom/crm_day.html", {"form": form, "groups": board.CRM_DAY})
