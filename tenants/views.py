"""Sign-in hand-off between hosts, the UDN switcher and the shared space's home."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET
from django_tenants.utils import get_public_schema_name

from tenants.models import UDN
from tenants.selectors import heartbeat_of, membership_for, udn_list, udn_list_for_user
from tenants.services import handoff_token_create, handoff_token_redeem
from tenants.urlhelpers import space_url


@login_required
@require_GET
def switch(request: HttpRequest, slug: str) -> HttpResponse:
    """Go to another space (a UDN, or `shared`) signed in, through a one-time hand-off."""
    if slug == "shared":
        target = get_object_or_404(UDN, schema_name=get_public_schema_name())
    else:
        target = get_object_or_404(UDN.objects.exclude(schema_name=get_public_schema_name()), slug=slug)
        membership_for(user=request.user, udn=target)  # type: ignore[arg-type]
    token = handoff_token_create(user=request.user, target=target)  # type: ignore[arg-type]
    return HttpResponseRedirect(
        space_url(request, target, "/accounts/handoff/?" + urlencode({"token": token}))
    )


@require_GET
def handoff(request: HttpRequest) -> HttpResponse:
    try:
        result = handoff_token_redeem(token=request.GET.get("token", ""))
    except PermissionError as exc:
        messages.error(request, str(exc))
        return redirect("login")
    login(request, result.user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect(result.next_path)


@login_required
def shared_home(request: HttpRequest) -> HttpResponse:
    user = request.user
    member_of = set(udn_list_for_user(user=user).values_list("pk", flat=True))  # type: ignore[arg-type]
    # Coordinators plan across every UDN: they see them all, entering only those they belong to.
    listed = udn_list() if user.is_coordinator else udn_list_for_user(user=user)  # type: ignore[union-attr,arg-type]
    udns = [
        {"udn": udn, "heartbeat": heartbeat_of(udn=udn), "can_enter": udn.pk in member_of} for udn in listed
    ]
    return render(request, "tenants/shared_home.html", {"udns": udns})
