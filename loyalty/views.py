"""Loyalty's pages (thin: a form, one service or selector call, a template)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.access import affiliate_get
from loyalty import selectors
from loyalty.forms import AdjustForm, MissionForm, ProgrammeForm, RewardForm, RuleForm, SimulationForm
from loyalty.models import Mission, Programme, Reward, Rule, RuleSet, RuleSetStatus, Simulation
from loyalty.services.ledger import LoyaltyError, points_adjust
from loyalty.services.programme import draft_get, programme_save, rule_save, rule_set_publish
from loyalty.services.rankings import ranking
from loyalty.services.redemptions import reward_redeem
from loyalty.services.simulation import simulation_progress, simulation_start
from tenants.access import udn_write_required


def _who(request: HttpRequest) -> str:
    return getattr(request.user, "email", "") or ""


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


def _rules_context(form: RuleForm | None = None) -> dict[str, Any]:
    draft = draft_get()
    live = RuleSet.objects.filter(status=RuleSetStatus.LIVE).first()
    return {
        "draft": draft,
        "rules": draft.rules.all(),
        "live": live,
        "live_rules": live.rules.all() if live else [],
        "form": form or RuleForm(),
        "sim_form": SimulationForm(
            initial={"start": timezone.localdate() - timedelta(days=90), "end": timezone.localdate()}
        ),
        "simulations": Simulation.objects.select_related("rule_set")[:10],
    }


def rules_page(request: HttpRequest) -> HttpResponse:
    if Programme.objects.first() is None:
        messages.info(request, _("Set up the programme first."))
        return redirect("loyalty-programme")
    return render(request, "loyalty/rules.html", _rules_context())


@require_POST
@udn_write_required
def rule_add(request: HttpRequest) -> HttpResponse:
    form = RuleForm(request.POST)
    if form.is_valid():
        try:
            rule_save(rule_set=draft_get(), data=form.data_for_service())
        except LoyaltyError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Rule added to the draft."))
            return redirect("loyalty-rules")
    return render(request, "loyalty/rules.html", _rules_context(form), status=400)


@require_POST
@udn_write_required
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(Rule, pk=pk, rule_set__status=RuleSetStatus.DRAFT).delete()
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
        return render(request, "loyalty/rules.html", {**_rules_context(), "sim_form": form}, status=400)
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
    form = RewardForm()
    if request.method == "POST":
        return _reward_post(request)
    return render(request, "loyalty/rewards.html", {"form": form, "rewards": Reward.objects.all()})


@udn_write_required
def _reward_post(request: HttpRequest) -> HttpResponse:
    form = RewardForm(request.POST)
    if not form.is_valid():
        return render(
            request, "loyalty/rewards.html", {"form": form, "rewards": Reward.objects.all()}, status=400
        )
    form.save()
    messages.success(request, _("Reward saved."))
    return redirect("loyalty-rewards")


def budget_page(request: HttpRequest) -> HttpResponse:
    programme = Programme.objects.first()
    return render(
        request,
        "loyalty/budget.html",
        {
            "programme": programme,
            "months": selectors.budget_months(programme=programme),
            "liability": selectors.liability(),
        },
    )


def missions_page(request: HttpRequest) -> HttpResponse:
    form = MissionForm()
    if request.method == "POST":
        return _mission_post(request)
    return render(request, "loyalty/missions.html", {"form": form, "missions": Mission.objects.all()})


@udn_write_required
def _mission_post(request: HttpRequest) -> HttpResponse:
    form = MissionForm(request.POST)
    if not form.is_valid():
        return render(
            request, "loyalty/missions.html", {"form": form, "missions": Mission.objects.all()}, status=400
        )
    mission = form.save(commit=False)
    mission.steps = [s.strip() for s in form.cleaned_data["steps_text"].split(",") if s.strip()]
    mission.save()
    messages.success(request, _("Mission saved."))
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
