"""The unsubscribe link of e-mails (`/u/<token>/`, open to anyone holding the signed link):
GET shows a page asking to confirm; POST unsubscribes — from that page, or straight from the mail
client (RFC 8058 one-click: `List-Unsubscribe=One-Click`, no cookie, no CSRF token)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from campaigns.services.unsubscribe import UnsubscribeInvalid, unsubscribe_affiliate, unsubscribe_apply


@csrf_exempt  # mail clients POST without a token; the signed link is the proof
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        if request.method == "POST":
            affiliate = unsubscribe_apply(token=token)
            return render(request, "campaigns/unsubscribe.html", {"done": True, "affiliate": affiliate})
        affiliate = unsubscribe_affiliate(token=token)
    except UnsubscribeInvalid:
        return render(request, "campaigns/unsubscribe.html", {"invalid": True}, status=404)
    return render(request, "campaigns/unsubscribe.html", {"affiliate": affiliate, "token": token})
