"""The API keys page of a UDN: list, create (the key is shown once), revoke."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from crm.access import api_key_get
from crm.models import API_SCOPE_LABELS, API_SCOPES_OFFERED
from crm.selectors.api_keys import api_key_list
from crm.services.api_keys import api_key_create, api_key_revoke
from crm.views._methods import post_or_redirect
from tenants.access import udn_write_required


def _scope_choices() -> list[tuple[str, SafeString]]:
    """Each scope as people read it, with the identifier the API documentation uses beside it."""
    return [
        (value, format_html('{} <code class="muted">{}</code>', API_SCOPE_LABELS[value], value))
        for value in API_SCOPES_OFFERED
    ]


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"), max_length=100, help_text=gettext_lazy("e.g. App backend")
    )
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("Scopes"), choices=_scope_choices, widget=forms.CheckboxSelectMultiple
    )


def _page(request: HttpRequest, *, form: ApiKeyForm, new_key: str = "", status: int = 200) -> HttpResponse:
    context = {"keys": list(api_key_list()), "form": form, "new_key": new_key}
    return render(request, "crm/api_keys.html", context, status=status)


def _new_key_slot(request: HttpRequest) -> str:
    """Where the session keeps a new key until the page shows it: one slot per UDN, so a key never
    shows on another UDN's page of the same sign-in."""
    return f"api-key-new:{request.tenant.schema_name}"  # type: ignore[attr-defined]


def api_keys(request: HttpRequest) -> HttpResponse:
    # Shown once: taken out of the session as it is shown (a reload shows it no more). The page is
    # never cached (no-store on every signed-in response).
    new_key = request.session.pop(_new_key_slot(request), "")
    return _page(request, form=ApiKeyForm(), new_key=new_key)


@post_or_redirect("api-keys")
@udn_write_required
def api_key_new(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    api_key, key = api_key_create(
        name=form.cleaned_data["name"],
        scopes=form.cleaned_data["scopes"],
        created_by=request.user.email,  # type: ignore[union-attr]
    )
    # Post/redirect/get: reloading the page that shows the key creates no second key. The plaintext
    # waits in the session (server-side, in the database) for that one display, and no longer.
    request.session[_new_key_slot(request)] = key
    messages.success(request, _("Key “%(name)s” created.") % {"name": api_key.name})
    return redirect("api-keys")


@require_POST
def api_key_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    api_key = api_key_revoke(key=api_key_get(user=request.user, pk=pk, write=True))
    messages.success(request, _("Key “%(name)s” revoked.") % {"name": api_key.name})
    return redirect("api-keys")
