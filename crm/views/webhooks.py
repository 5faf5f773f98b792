"""The webhooks page of a UDN: subscriptions (marketers create, pause, resume) and the delivery
log everyone can read, newest first."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from crm.access import webhook_delivery_get, webhook_subscription_get
from crm.models import WEBHOOK_EVENT_LABELS, WEBHOOK_EVENTS_OFFERED
from crm.selectors.webhooks import webhook_delivery_log, webhook_subscription_list
from crm.services.webhooks import (
    WebhookError,
    webhook_delivery_redeliver,
    webhook_subscription_create,
    webhook_subscription_rotate_secret,
    webhook_subscription_set_active,
)
from tenants.access import udn_write_required

LOG_PAGE_SIZE = 50


def _event_choices() -> list[tuple[str, SafeString]]:
    """Each event as people read it, with the identifier the payloads carry beside it."""
    return [
        (value, format_html('{} <code class="muted">{}</code>', WEBHOOK_EVENT_LABELS[value], value))
        for value in WEBHOOK_EVENTS_OFFERED
    ]


class WebhookForm(forms.Form):
    url = forms.URLField(
        label=gettext_lazy("URL"),
        max_length=500,
        assume_scheme="https",
        help_text=gettext_lazy("e.g. https://partner.example.com/hooks/udn"),
    )
    events = forms.MultipleChoiceField(
        label=gettext_lazy("Events"), choices=_event_choices, widget=forms.CheckboxSelectMultiple
    )


def _page(request: HttpRequest, *, form: WebhookForm, status: int = 200) -> HttpResponse:
    log = Paginator(webhook_delivery_log(), LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "subscriptions": list(webhook_subscription_list()),
        "form": form,
        "page": log,
        "now": timezone.now(),  # a rotated secret's overlap is shown while it lasts
    }
    return render(request, "crm/webhooks.html", context, status=status)


def webhooks(request: HttpRequest) -> HttpResponse:
    return _page(request, form=WebhookForm())


@require_POST
@udn_write_required
def webhook_new(request: HttpRequest) -> HttpResponse:
    form = WebhookForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    try:
        webhook_subscription_create(
            url=form.cleaned_data["url"],
            events=form.cleaned_data["events"],
            created_by=request.user.email,  # type: ignore[union-attr]
        )
    except WebhookError as error:
        form.add_error(error.field if error.field in form.fields else None, str(error))
        return _page(request, form=form, status=400)
    messages.success(request, _("Webhook created."))
    return redirect("webhooks")


@require_POST
def webhook_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = webhook_subscription_get(user=request.user, pk=pk, write=True)
    webhook_subscription_set_active(subscription=subscription, active=request.POST.get("active") == "1")
    return redirect("webhooks")


@require_POST
def webhook_rotate_secret(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = webhook_subscription_get(user=request.user, pk=pk, write=True)
    webhook_subscription_rotate_secret(subscription=subscription, rotated_by=request.user.email)  # type: ignore[union-attr]
    messages.success(request, _("New signing secret made; the previous one still signs for 24 hours."))
    return redirect("webhooks")


@require_POST
def webhook_redeliver(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = webhook_delivery_get(user=request.user, pk=pk, write=True)
    try:
        webhook_delivery_redeliver(delivery=delivery, redelivered_by=request.user.email)  # type: ignore[union-attr]
    except WebhookError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Delivery queued to be sent again."))
    return redirect("webhooks")
