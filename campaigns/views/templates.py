"""The "Modelos" pages of a UDN: the template list, the editor of each channel with its variables,
a live preview filled in for a chosen affiliate (htmx), the SMS segment count, and a test send to
oneself. Marketers write; analysts read (and preview)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from campaigns.models import MessageTemplate
from campaigns.selectors.templates import (
    template_get,
    template_list,
    template_preview_affiliate,
    template_preview_affiliates,
)
from campaigns.services.templates import template_save
from campaigns.services.testsend import TestSendError, template_test_send
from campaigns.templating import (
    CHANNEL_FIELDS,
    DATA_NAMESPACE,
    EVENT_NAMESPACE,
    VARIABLES,
    RenderError,
    message_render,
    sms_count,
    template_field_errors,
)
from crm.channels import BY_CODE, CHANNELS
from crm.models import Affiliate
from crm.views._methods import post_or_redirect
from tenants.access import udn_write_required
from tenants.actors import audit_actor
from tenants.models import Membership
from tenants.selectors import membership_for

PAGE_SIZE = 25
# Fields a person types variables into (the variable list inserts into the last one focused).
_VARIABLE_FIELDS = frozenset(
    {"subject", "body_html", "body_text", "title", "link_url", "button_text", "wa_parameters"}
)


def _member(request: HttpRequest, *, write: bool = False) -> Membership:
    return membership_for(user=request.user, udn=request.tenant, write=write)  # type: ignore[arg-type,attr-defined]


def _template_for(request: HttpRequest, pk: int, *, write: bool = False) -> MessageTemplate:
    """The one door for a template named in a URL: the role first (PermissionDenied), then the row
    (Http404)."""
    _member(request, write=write)
    try:
        return template_get(pk=pk)
    except MessageTemplate.DoesNotExist:
        raise Http404 from None


class TemplateFilterForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Search"), required=False, max_length=120)
    channel = forms.ChoiceField(
        label=gettext_lazy("Channel"),
        required=False,
        choices=[("", gettext_lazy("All channels")), *((c.code, c.label) for c in CHANNELS)],
    )


class ParametersField(forms.CharField):
    """WhatsApp template parameters, one a line ({{1}}, {{2}}... of the approved template)."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list | tuple) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value)
        return [line.strip() for line in str(text).splitlines() if line.strip()]


class TemplateForm(forms.ModelForm):  # type: ignore[type-arg]
    slug = forms.SlugField(
        label=gettext_lazy("Code"),
        max_length=80,
        required=False,
        help_text=gettext_lazy("Used by the API and journeys; made from the name when left blank."),
    )

    class Meta:
        model = MessageTemplate
        fields = ["name", "slug"]
        widgets = {
            "body_html": forms.Textarea(attrs={"rows": 10}),
            "body_text": forms.Textarea(attrs={"rows": 6}),
        }

    def validate_unique(self) -> None:
        """The service checks what it must; a blank slug is filled in there."""


def template_form_class(channel: str) -> type[TemplateForm]:
    """The editor of `channel`: the common fields and that channel's only."""
    fields = ["name", "slug", *CHANNEL_FIELDS[channel]]
    attrs: dict[str, Any] = {}
    if "wa_parameters" in fields:
        attrs["wa_parameters"] = ParametersField(
            label=gettext_lazy("template parameters"),
            required=False,
            help_text=gettext_lazy("One a line, in the order of the approved template's {{1}}, {{2}}..."),
        )
    meta = type("Meta", (TemplateForm.Meta,), {"fields": fields})
    form_class = type(f"TemplateForm_{channel}", (TemplateForm,), {**attrs, "Meta": meta})
    return form_class  # type: ignore[return-value]


def _form_for(
    channel: str, *, data: Any = None, instance: MessageTemplate | None = None, read_only: bool
) -> TemplateForm:
    form = template_form_class(channel)(data=data, instance=instance)
    for name, field in form.fields.items():
        if name in _VARIABLE_FIELDS:
            field.widget.attrs["data-variables-target"] = ""
        if name == "body_text" and channel == "sms":
            field.widget.attrs["aria-describedby"] = "sms-count"
        if read_only:
            # readonly, not disabled: the preview posts the fields, and a disabled one is not sent.
            field.widget.attrs["readonly"] = ""
    return form


def _variables_help() -> list[tuple[str, str, str]]:
    return [(name, str(variable.description), variable.example) for name, variable in VARIABLES.items()]


# --- List -------------------------------------------------------------------------------------


@require_GET
def template_list_page(request: HttpRequest) -> HttpResponse:
    form = TemplateFilterForm(request.GET)
    search, channel = "", ""
    if form.is_valid():
        search, channel = form.cleaned_data["q"], form.cleaned_data["channel"]
    rows = template_list(search=search, channel=channel)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "querystring": query.urlencode(),
        "filtered": bool(search.strip() or channel),
        "channels": CHANNELS,
    }
    name = "campaigns/_template_results.html" if request.htmx else "campaigns/template_list.html"  # type: ignore[attr-defined]
    return render(request, name, context)


# --- Editor -----------------------------------------------------------------------------------


def _editor(
    request: HttpRequest,
    *,
    form: TemplateForm,
    channel: str,
    template: MessageTemplate | None,
    status: int = 200,
) -> HttpResponse:
    membership = _member(request)
    context = {
        "form": form,
        "channel": BY_CODE[channel],
        "template": template,
        "variables": _variables_help(),
        "event_namespace": EVENT_NAMESPACE,
        "data_namespace": DATA_NAMESPACE,
        "can_write": membership.can_write,
        # A new template's empty fields would greet the person with "fill in" errors.
        "preview": _preview_context(template=form.instance, affiliate=None, variables={})
        if template is not None or form.is_bound
        else {},
        "test_needs_address": channel != "email",
        "user_email": getattr(request.user, "email", ""),
    }
    return render(request, "campaigns/template_form.html", context, status=status)


def _save(request: HttpRequest, *, template: MessageTemplate, channel: str) -> HttpResponse:
    form = _form_for(channel, data=request.POST, instance=template, read_only=False)
    if form.is_valid():
        try:
            saved = template_save(template=template, data=form.cleaned_data, actor=audit_actor())
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            messages.success(request, _("Template “%(name)s” saved.") % {"name": saved.name})
            return redirect("template-edit", pk=saved.pk)
    return _editor(
        request, form=form, channel=channel, template=template if template.pk else None, status=400
    )


@udn_write_required
def template_new(request: HttpRequest, channel: str) -> HttpResponse:
    if channel not in CHANNEL_FIELDS:
        raise Http404
    if request.method == "POST":
        return _save(request, template=MessageTemplate(channel=channel), channel=channel)
    form = _form_for(channel, instance=MessageTemplate(channel=channel), read_only=False)
    return _editor(request, form=form, channel=channel, template=None)


def template_edit(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method == "POST":
        template = _template_for(request, pk, write=True)
        return _save(request, template=template, channel=template.channel)
    template = _template_for(request, pk)
    can_write = _member(request).can_write
    form = _form_for(template.channel, instance=template, read_only=not can_write)
    return _editor(request, form=form, channel=template.channel, template=template)


# --- Preview ------------------------------------------------------------------------------------


def _unsaved(channel: str, data: Any) -> MessageTemplate:
    """A template made of the editor's fields as typed (not validated, never saved)."""
    template = MessageTemplate(channel=channel)
    for field in CHANNEL_FIELDS[channel]:
        if field == "wa_parameters":
            template.wa_parameters = [
                line.strip() for line in data.get(field, "").splitlines() if line.strip()
            ]
        else:
            setattr(template, field, data.get(field, ""))
    return template


def _preview_context(
    *, template: MessageTemplate, affiliate: Affiliate | None, variables: dict[str, Any]
) -> dict[str, Any]:
    errors = template_field_errors(template)
    context: dict[str, Any] = {"errors": [message for _field, message in errors], "affiliate": affiliate}
    context["channel_code"] = template.channel
    if errors:
        return context
    try:
        payload = message_render(template=template, affiliate=affiliate, variables=variables)
    except RenderError as error:
        context["errors"] = [str(error)]
        return context
    context["payload"] = payload
    context["payload_json"] = json.dumps(payload, ensure_ascii=False, indent=2)
    if template.channel == "sms":
        context["sms"] = sms_count(payload["text"])
    return context


def _parse_variables(text: str) -> dict[str, Any]:
    """Test variables typed as JSON ({"evento": {...}, "cupom": ...}); anything else is none."""
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@require_POST
def template_preview(request: HttpRequest, channel: str) -> HttpResponse:
    """The preview fragment for the editor's fields as typed (read-only: analysts may use it)."""
    _member(request)
    if channel not in CHANNEL_FIELDS:
        raise Http404
    template = _unsaved(channel, request.POST)
    affiliate = None
    chosen = request.POST.get("preview_affiliate", "")
    if chosen.isdigit():
        affiliate = template_preview_affiliate(pk=int(chosen))
    variables = _parse_variables(request.POST.get("preview_variables", ""))
    context = _preview_context(template=template, affiliate=affiliate, variables=variables)
    return render(request, "campaigns/_template_preview.html", {"preview": context, "oob": True})


@require_GET
def template_preview_affiliates_page(request: HttpRequest) -> HttpResponse:
    _member(request)
    search = request.GET.get("preview_search", "")
    context = {"choices": template_preview_affiliates(search=search), "searched": bool(search.strip())}
    return render(request, "campaigns/_template_affiliates.html", context)


# --- Test send ----------------------------------------------------------------------------------


@post_or_redirect("template-list")
@udn_write_required
def template_test(request: HttpRequest, pk: int) -> HttpResponse:
    template = _template_for(request, pk, write=True)
    affiliate = None
    chosen = request.POST.get("preview_affiliate", "")
    if chosen.isdigit():
        affiliate = template_preview_affiliate(pk=int(chosen))
    address = (
        getattr(request.user, "email", "") if template.channel == "email" else request.POST.get("address", "")
    )
    try:
        message = template_test_send(
            template=template,
            address=address,
            affiliate=affiliate,
            variables=_parse_variables(request.POST.get("preview_variables", "")),
        )
    except TestSendError as error:
        return render(request, "campaigns/_template_test_result.html", {"error": str(error)}, status=400)
    return render(request, "campaigns/_template_test_result.html", {"message": message, "address": address})
