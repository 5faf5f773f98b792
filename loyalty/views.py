"""Loyalty's pages (thin: a form, one service or selector call, a template)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.access import affiliate_get
from loyalty import selectors
from loyalty.forms import (
    AdjustForm,
    BudgetForm,
    MissionForm,
    ProgrammeForm,
    RewardForm,
    RuleForm,
    SimulationForm,
    service_errors_to_form,
)
from loyalty.models import Mission, Programme, Reward, Rule, RuleSet, RuleSetStatus, Simulation
from loyalty.services.catalogue import (
    budget_month_set,
    mission_errors,
    mission_retire,
    mission_save,
    reward_errors,
    reward_retire,
    reward_save,
)
from loyalty.services.ledger import LoyaltyError, LoyaltyInvalid, points_adjust
from loyalty.services.programme import draft_get, programme_save, rule_errors, rule_save, rule_set_publish
from loyalty.services.rankings import ranking
from loyalty.services.redemptions import reward_redeem
from loyalty.services.simulation import simulation_progress, simulation_start
from tenants.access import udn_write_required
from tenants.selectors import membership_for


def _who(request: HttpRequest) -> str:
    return getattr(request.user, "email", "") or ""


def _can_write(request: HttpRequest) -> bool:
    """Whether the page offers its forms (the write views refuse analysts anyway)."""
    return membership_for(user=request.user, udn=request.tenant).can_write  # type: ignore[arg-type,attr-defined]


def _draft_rule_get(pk: int) -> Rule:
    """A rule of the draft (a live or retired version's rules never change)."""
    return get_object_or_404(Rule, pk=pk, rule_set__status=RuleSetStatus.DRAFT)


def programme_page(request: HttpRequest) -> HttpResponse:
    programme = Programme.objects.first()
    form = ProgrammeForm(instance=programme)
    if request.method == "POST":
        return _programme_post(request, programme)
    return render(
        request,
        "loyalty/programme.html",
        {
            "form": form,
            "programme": programme,
            "liability": selectors.liability(),
            "budget": selectors.budget_months(programme=programme)[:1],
        },
    )


@udn_write_required
def _programme_post(request: HttpRequest, programme: Programme | None) -> HttpResponse:
    form = ProgrammeForm(request.POST, instance=programme)
    if not form.is_valid():
        return render(
            request,
            "loyalty/programme.html",
            {"form": form, "programme": programme, "liability": selectors.liability()},
            status=400,
        )
    programme_save(**form.cleaned_data)
    messages.success(request, _("Programme saved."))
    return redirect("loyalty-programme")


def _rules_context(
    request: HttpRequest, form: RuleForm | None = None, editing: Rule | None = None
) -> dict[str, Any]:
    draft = draft_get()
    live = RuleSet.objects.filter(status=RuleSetStatus.LIVE).first()
    if form is None:
        form = RuleForm(initial=RuleForm.initial_for(editing)) if editing else RuleForm()
    return {
        "draft": draft,
        "rules": selectors.rules_with_segments(rules=draft.rules.all()),
        "live": live,
        "live_rules": selectors.rules_with_segments(rules=live.rules.all()) if live else [],
        "form": form,
        "editing": editing,
        "can_write": _can_write(request),
        "sim_form": SimulationForm(
            initial={"start": timezone.localdate() - timedelta(days=90), "end": timezone.localdate()}
        ),
        "simulations": Simulation.objects.select_related("rule_set")[:10],
    }


def rules_page(request: HttpRequest) -> HttpResponse:
    if Programme.objects.first() is None:
        messages.info(request, _("Set up the programme first."))
        return redirect("loyalty-programme")
    return render(request, "loyalty/rules.html", _rules_context(request))


def _rule_post(request: HttpRequest, rule: Rule | None) -> HttpResponse:
    form = RuleForm(request.POST)
    if form.is_valid():
        try:
            rule_save(rule_set=draft_get(), data=form.data_for_service(), rule=rule)
        except LoyaltyInvalid as invalid:
            service_errors_to_form(form, invalid.errors)
        except LoyaltyError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request, _("Rule saved in the draft.") if rule else _("Rule added to the draft.")
            )
            return redirect("loyalty-rules")
    else:  # what the form could read is checked too: every fault shows at once
        service_errors_to_form(form, rule_errors(form.data_for_service(), rule_set=draft_get(), rule=rule))
    return render(request, "loyalty/rules.html", _rules_context(request, form, editing=rule), status=400)


@require_POST
@udn_write_required
def rule_add(request: HttpRequest) -> HttpResponse:
    return _rule_post(request, None)


@udn_write_required
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _draft_rule_get(pk)
    if request.method == "POST":
        return _rule_post(request, rule)
    return render(request, "loyalty/rules.html", _rules_context(request, editing=rule))


@require_POST
@udn_write_required
def rule_validate(request: HttpRequest) -> HttpResponse:
    """The editor's live check (htmx, as the marketer types): the form's parsing and the rule's
    one validation (rule_errors, as rule_save runs it), each message beside its field. A field
    still empty is not scolded yet."""
    editing = _draft_rule_get(int(request.POST["rule"])) if request.POST.get("rule") else None
    form = RuleForm(request.POST)
    form.is_valid()
    errors = {name: " ".join(str(e) for e in errs) for name, errs in form.errors.items()}
    service = rule_errors(form.data_for_service(), rule_set=draft_get(), rule=editing)
    for name, message in service.items():
        errors.setdefault(name if name in form.fields else "__all__", message)
    shown = {name: message for name, message in errors.items() if name == "__all__" or request.POST.get(name)}
    fields = [(name, shown.get(name, "")) for name in form.fields]
    return render(
        request, "loyalty/_rule_errors.html", {"fields": fields, "general": shown.get("__all__", "")}
    )


@require_POST
@udn_write_required
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _draft_rule_get(pk).delete()
    return redirect("loyalty-rules")


@require_POST
@udn_write_required
def rules_publish(request: HttpRequest) -> HttpResponse:
    try:
        rule_set_publish(rule_set=draft_get(), by=_who(request))
    except LoyaltyError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Rules published: new events earn by them."))
    return redirect("loyalty-rules")


@require_POST
@udn_write_required
def simulation_new(request: HttpRequest) -> HttpResponse:
    form = SimulationForm(request.POST)
    if not form.is_valid():
        return render(
            request, "loyalty/rules.html", {**_rules_context(request), "sim_form": form}, status=400
        )
    simulation = simulation_start(
        rule_set=draft_get(), start=form.cleaned_data["start"], end=form.cleaned_data["end"], by=_who(request)
    )
    return redirect("loyalty-simulation", pk=simulation.pk)


def simulation_page(request: HttpRequest, pk: int) -> HttpResponse:
    simulation = get_object_or_404(Simulation.objects.select_related("rule_set"), pk=pk)
    names = {
        str(r.pk): r.name
        for r in Rule.objects.filter(pk__in=[int(k) for k in simulation.result.get("rules", {})])
    }
    context = {
        "simulation": simulation,
        "progress": simulation_progress(simulation=simulation),
        "rule_names": names,
    }
    template = (
        "loyalty/_simulation_status.html" if request.headers.get("HX-Request") else "loyalty/simulation.html"
    )
    return render(request, template, context)


def rewards_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _reward_post(request, None)
    return _rewards_render(request, RewardForm())


def _rewards_render(
    request: HttpRequest, form: RewardForm, reward: Reward | None = None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "loyalty/rewards.html",
        {
            "form": form,
            "editing": reward,
            "rewards": Reward.objects.annotate(redeemed=Count("redemptions")),
            "can_write": _can_write(request),
        },
        status=status,
    )


@udn_write_required
def _reward_post(request: HttpRequest, reward: Reward | None) -> HttpResponse:
    form = RewardForm(request.POST, instance=reward)
    if form.is_valid():
        try:
            reward_save(data=form.cleaned_data, reward=reward)
        except LoyaltyInvalid as invalid:
            service_errors_to_form(form, invalid.errors)
        else:
            messages.success(request, _("Reward saved."))
            return redirect("loyalty-rewards")
    else:  # what the form could read is checked too: every fault shows at once
        service_errors_to_form(form, reward_errors(form.cleaned_data))
    return _rewards_render(request, form, reward, status=400)


@udn_write_required
def reward_edit(request: HttpRequest, pk: int) -> HttpResponse:
    reward = get_object_or_404(Reward, pk=pk)
    if request.method == "POST":
        return _reward_post(request, reward)
    return _rewards_render(request, RewardForm(instance=reward), reward)


@require_POST
@udn_write_required
def reward_remove(request: HttpRequest, pk: int) -> HttpResponse:
    if reward_retire(reward=get_object_or_404(Reward, pk=pk)):
        messages.success(request, _("Reward deleted."))
    else:
        messages.info(request, _("This reward has redemptions: it was deactivated instead of deleted."))
    return redirect("loyalty-rewards")


def budget_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _budget_post(request)
    return _budget_render(request, BudgetForm(initial={"month": timezone.localdate().replace(day=1)}))


def _budget_render(request: HttpRequest, form: BudgetForm, status: int = 200) -> HttpResponse:
    programme = Programme.objects.first()
    today = timezone.localdate().replace(day=1)
    return render(
        request,
        "loyalty/budget.html",
        {
            "programme": programme,
            "months": selectors.budget_months(programme=programme),
            "liability": selectors.liability(),
            "form": form,
            "this_month": today,
            "can_write": _can_write(request),
        },
        status=status,
    )


@udn_write_required
def _budget_post(request: HttpRequest) -> HttpResponse:
    form = BudgetForm(request.POST)
    if form.is_valid():
        try:
            row = budget_month_set(month=form.cleaned_data["month"], budget=form.cleaned_data["budget"])
        except LoyaltyInvalid as invalid:
            service_errors_to_form(form, invalid.errors)
        else:
            messages.success(request, _("Budget of %(month)s saved.") % {"month": f"{row.month:%m/%Y}"})
            return redirect("loyalty-budget")
    return _budget_render(request, form, status=400)


def missions_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _mission_post(request, None)
    return _missions_render(request, MissionForm())


def _missions_render(
    request: HttpRequest, form: MissionForm, mission: Mission | None = None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "loyalty/missions.html",
        {
            "form": form,
            "editing": mission,
            "missions": Mission.objects.annotate(
                started=Count("progress"),
                completed=Count("progress", filter=Q(progress__completed_at__isnull=False)),
            ),
            "can_write": _can_write(request),
        },
        status=status,
    )


@udn_write_required
def _mission_post(request: HttpRequest, mission: Mission | None) -> HttpResponse:
    form = MissionForm(request.POST, instance=mission)
    if form.is_valid():
        try:
            mission_save(data=form.data_for_service(), mission=mission)
        except LoyaltyInvalid as invalid:
            form.add_service_errors(invalid.errors)
        else:
            messages.success(request, _("Mission saved."))
            return redirect("loyalty-missions")
    else:  # what the form could read is checked too: every fault shows at once
        form.add_service_errors(mission_errors(form.data_for_service(), mission=mission))
    return _missions_render(request, form, mission, status=400)


@udn_write_required
def mission_edit(request: HttpRequest, pk: int) -> HttpResponse:
    mission = get_object_or_404(Mission, pk=pk)
    if request.method == "POST":
        return _mission_post(request, mission)
    return _missions_render(request, MissionForm(instance=mission), mission)


@require_POST
@udn_write_required
def mission_remove(request: HttpRequest, pk: int) -> HttpResponse:
    if mission_retire(mission=get_object_or_404(Mission, pk=pk)):
        messages.success(request, _("Mission deleted."))
    else:
        messages.info(
            request, _("Affiliates have started this mission: it was deactivated instead of deleted.")
        )
    return redirect("loyalty-missions")


def rankings_page(request: HttpRequest) -> HttpResponse:
    days = 30
    by = request.GET.get("by", "overall")
    if by not in ("overall", "city", "plan"):
        by = "overall"
    value = request.GET.get("value", "")
    now = timezone.now()
    rows = (
        ranking(start=now - timedelta(days=days), end=now, by=by, value=value)
        if by == "overall" or value
        else []
    )
    return render(request, "loyalty/rankings.html", {"rows": rows, "by": by, "value": value, "days": days})


def affiliate_panel_context(*, request: HttpRequest, affiliate: Any) -> dict[str, Any] | None:
    """The affiliate page's loyalty panel (crm.panels)."""
    programme = Programme.objects.first()
    if programme is None:
        return None
    return {
        "programme": programme,
        "affiliate": affiliate,
        "balance": selectors.balance(affiliate_id=affiliate.pk),
        "entries": list(selectors.ledger(affiliate_id=affiliate.pk)[:20]),
        "missions": selectors.mission_progress(affiliate_id=affiliate.pk),
        "rewards": selectors.rewards_available(),
        "adjust_form": AdjustForm(),
    }


@require_POST
@udn_write_required
def affiliate_redeem(request: HttpRequest, pk: int) -> HttpResponse:
    affiliate = affiliate_get(user=request.user, pk=pk)
    try:
        reward_redeem(affiliate=affiliate, reward_id=int(request.POST.get("reward") or 0), by=_who(request))
    except LoyaltyError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Reward redeemed."))
    return redirect("affiliate-detail", pk=pk)


@require_POST
@udn_write_required
def affiliate_adjust(request: HttpRequest, pk: int) -> HttpResponse:
    affiliate = affiliate_get(user=request.user, pk=pk)
    form = AdjustForm(request.POST)
    if form.is_valid():
        try:
            points_adjust(
                affiliate=affiliate,
                points=form.cleaned_data["points"],
                reason=form.cleaned_data["reason"],
                by=_who(request),
            )
        except LoyaltyError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Points adjusted."))
    else:
        messages.error(request, _("An adjustment needs points and a reason."))
    return redirect("affiliate-detail", pk=pk)
