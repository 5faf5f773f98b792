"""Falhas: messages that died after their retries, with the provider's error, and "Reenviar"."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from campaigns.selectors.outbox import messages_dead
from campaigns.services.sender import message_resend
from tenants.access import udn_write_required

PAGE_SIZE = 50


def failures_page(request: HttpRequest) -> HttpResponse:
    page = Paginator(messages_dead(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "campaigns/failures.html", {"page": page})


@require_POST
@udn_write_required
def failures_resend(request: HttpRequest) -> HttpResponse:
    ids = [int(value) for value in request.POST.getlist("message") if value.isdigit()]
    count = message_resend(message_ids=ids, by=request.user.email)  # type: ignore[union-attr]
    messages.success(
        request,
        ngettext(
            "%(count)d message queued to be sent again.", "%(count)d messages queued to be sent again.", count
        )
        % {"count": count},
    )
    return redirect("message-failures")
