"""Sign-in hand-off between hosts, the UDN switcher and the shared space's home."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordResetForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from tenants.access import space_enter, space_get
from tenants.auth import CanonicalHostPasswordResetForm, SignInForm
from tenants.models import UDN
from tenants.selectors import heartbeat_of, udn_enterable, udn_list, udn_list_for_user
from tenants.services import (
    PasswordResetThrottled,
    handoff_binding_new,
    handoff_token_create,
    handoff_token_redeem,
    password_reset_request_check,
)
from tenants.throttle import client_address
from tenants.urlhelpers import space_url

# The UDN switcher signs the person in on another host (when SESSION_COOKIE_DOMAIN does not share
# one session cookie across hosts). A bare signed token in a URL would sign in *whoever opens it*:
# someone could ask for a link to their own account and send it to a colleague, who would then
# work (and type data) inside the wrong account (login CSRF). So the token is bound to the browser
# that asked for it, in three hops:
#   1. origin  /switch/<slug>/           → target /accounts/handoff/start/?back=<origin slug>
#   2. target  sets a random secret in a cookie of its own host (HttpOnly, SameSite=Lax, 60 s)
#              → origin /switch/<slug>/?binding=<SHA-256 of the secret>
#   3. origin  (signed in, member of the target) signs a token carrying the user and the binding
#              → target /accounts/handoff/?token=…, which signs in only if this browser's cookie
#              hashes to the token's binding.
# A link made in another browser carries the hash of a secret that only that browser's cookie
# holds; making a victim's browser run hop 1 or 2 only ever yields a token for the victim's own
# session on the origin host. The cookie is host-only (`__Host-` under HTTPS), so a sibling host
# cannot plant one.
HANDOFF_BINDING_RE = re.compile(r"^[0-9a-f]{64}$")


def _handoff_cookie_name(request: HttpRequest) -> str:
    return "__Host-udn-handoff" if request.is_secure() else "udn-handoff"


def _slug_of(tenant: UDN) -> str:
    return "shared" if tenant.is_public else tenant.slug


@login_required
@require_GET
def switch(request: HttpRequest, slug: str) -> HttpResponse:
    """Go to another space (a UDN, or `shared`) signed in, through a hand-off bound to this browser."""
    target = space_enter(user=request.user, slug=slug)
    binding = request.GET.get("binding", "")
    if not HANDOFF_BINDING_RE.fullmatch(binding):
        back = _slug_of(request.tenant)  # type: ignore[attr-defined]
        return HttpResponseRedirect(
            space_url(request, target, "/accounts/handoff/start/?" + urlencode({"back": back}))
        )
    token = handoff_token_create(user=request.user, target=target, binding=binding)  # type: ignore[arg-type]
    return HttpResponseRedirect(
        space_url(request, target, "/accounts/handoff/?" + urlencode({"token": token}))
    )


@require_GET
def handoff_start(request: HttpRequest) -> HttpResponse:
    """Hop 2 (on the target host): remember a secret in this browser, send its hash back."""
    origin = space_get(slug=request.GET.get("back", ""))
    secret, binding = handoff_binding_new()
    response = HttpResponseRedirect(
        space_url(
            request,
            origin,
            f"/switch/{_slug_of(request.tenant)}/?" + urlencode({"binding": binding}),  # type: ignore[attr-defined]
        )
    )
    response.set_cookie(
        _handoff_cookie_name(request),
        secret,
        max_age=settings.HANDOFF_MAX_AGE,
        path="/",
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )
    return response


@require_GET
def handoff(request: HttpRequest) -> HttpResponse:
    cookie = _handoff_cookie_name(request)
    try:
        result = handoff_token_redeem(
            token=request.GET.get("token", ""), browser_secret=request.COOKIES.get(cookie, "")
        )
    except PermissionError as exc:
        messages.error(request, str(exc))
        response = redirect("login")
    else:
        login(request, result.user, backend="tenants.auth.ThrottledModelBackend")
        response = redirect(result.next_path)
    response.delete_cookie(cookie, path="/", samesite="Lax")
    return response


class SignInView(auth_views.LoginView):
    """Sign-in. On a UDN host whose pages this person may not open (a coordinator who is not a
    member, a member of other UDNs), it leads to the shared space, their way to their own spaces,
    instead of a 403."""

    redirect_authenticated_user = True
    authentication_form = SignInForm

    def get_success_url(self) -> str:
        tenant = self.request.tenant  # type: ignore[attr-defined]
        if not tenant.is_public and not udn_enterable(user=self.request.user, udn=tenant):  # type: ignore[arg-type]
            return reverse("switch", args=["shared"])
        return super().get_success_url()


class PasswordResetView(auth_views.PasswordResetView):
    """Password reset, limited per address and per e-mail (tenants.services) without telling
    whether the account exists; links point at the shared space's canonical host."""

    form_class = CanonicalHostPasswordResetForm

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        try:
            may_send = password_reset_request_check(
                email=form.cleaned_data["email"], address=client_address(self.request)
            )
        except PasswordResetThrottled as exc:
            form.add_error("email", str(exc))  # the template shows this field's errors
            return self.form_invalid(form)
        if not may_send:
            return HttpResponseRedirect(self.get_success_url())  # the same answer as a mail sent
        return super().form_valid(form)


@login_required
def shared_home(request: HttpRequest) -> HttpResponse:
    user = request.user
    member_of = set(udn_list_for_user(user=user).values_list("pk", flat=True))  # type: ignore[arg-type]
    # Coordinators plan across every UDN: they see them all, entering only those they belong to.
    listed = udn_list() if user.is_coordinator else udn_list_for_user(user=user)  # type: ignore[union-attr,arg-type]
    udns = [
        {"udn": udn, "heartbeat": heartbeat_of(udn=udn), "can_enter": udn.pk in member_of} for udn in listed
    ]
    # "These are your UDNs" only when they are: a coordinator also sees UDNs they cannot open.
    all_open = all(row["can_enter"] for row in udns)
    return render(request, "tenants/shared_home.html", {"udns": udns, "all_open": all_open})
