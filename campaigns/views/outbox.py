"""Caixa de saída: every message the local sandbox received for this UDN, shown as the person would
see it (an e-mail, a WhatsApp bubble, an SMS, a push notification, a Telegram message)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from campaigns.selectors.sandbox import sandbox_message_list
from crm.channels import CHANNEL_CODES, CHANNELS

PAGE_SIZE = 20


def sandbox_outbox(request: HttpRequest) -> HttpResponse:
    channel = request.GET.get("channel", "")
    channel = channel if channel in CHANNEL_CODES else ""
    recipient = request.GET.get("to", "").strip()[:200]
    page = Paginator(sandbox_message_list(channel=channel, recipient=recipient), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "channels": CHANNELS,
        "channel": channel,
        "recipient": recipient,
        "querystring": urlencode({k: v for k, v in (("channel", channel), ("to", recipient)) if v}),
    }
    return render(request, "campaigns/sandbox_outbox.html", context)
