from __future__ import annotations

import zoneinfo
from datetime import datetime

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from tenants.models import TIME_ZONE_CHOICES, UDN, Domain, Membership, User
from tenants.services import ProvisioningError, udn_provision

# The admin speaks the product's name and language (pt-BR through the catalog), not Django's.
admin.site.site_header = _("UDN CRM — administration")
admin.site.site_title = _("UDN CRM — administration")
admin.site.index_title = _("Administration")


class ProvisionForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    slug = forms.SlugField(
        label=_("Slug"), max_length=32, help_text=_("Becomes the schema and the host name.")
    )
    domain = forms.CharField(
        label=_("Domain"), required=False, help_text=_("Leave empty for <slug>.localhost (or BASE_DOMAIN).")
    )
    time_zone = forms.ChoiceField(
        label=_("Time zone"), choices=TIME_ZONE_CHOICES, initial="America/Sao_Paulo"
    )

    def clean_time_zone(self) -> str:
        value = self.cleaned_data["time_zone"]
        if value not in zoneinfo.available_timezones():
            raise ValidationError(_("Unknown time zone."))
        return value


# Labels for fields that have no verbose name of their own (django-tenants' mixins, foreign keys);
# given here rather than on the models, where a verbose name is part of the migration state.
class DomainForm(forms.ModelForm):
    class Meta:
        model = Domain
        fields = ["domain", "is_primary"]
        labels = {"domain": _("Domain"), "is_primary": _("Primary")}


class MembershipForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["user", "udn", "role"]
        labels = {"user": _("User"), "udn": _("UDN")}


class DomainInline(admin.TabularInline):
    model = Domain
    form = DomainForm
    extra = 0


class MembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipForm
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(UDN)
class UDNAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "schema", "time_zone", "last_tick_at", "created_at"]
    search_fields = ["name", "slug"]
    readonly_fields = ["schema", "slug", "last_tick_at", "created_at"]
    inlines = [DomainInline, MembershipInline]

    @admin.display(description=_("Schema"), ordering="schema_name")
    def schema(self, obj: UDN) -> str:
        return obj.schema_name

    def get_urls(self):
        return [
            path("provision/", self.admin_site.admin_view(self.provision_view), name="tenants_udn_provision"),
            *super().get_urls(),
        ]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None) -> HttpResponse:
        # A UDN is more than a row (schema, domain, beat tick): adding one is provisioning.
        return redirect("admin:tenants_udn_provision")

    def provision_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            return redirect("admin:index")
        form = ProvisionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                udn = udn_provision(**form.cleaned_data)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            except ProvisioningError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("UDN “%(name)s” provisioned.") % {"name": udn.name})
                return redirect(reverse("admin:tenants_udn_change", args=[udn.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Provision a UDN"),
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/tenants/udn/provision.html", context)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_coordinator", "is_staff", "is_active"]
    list_filter = ["is_coordinator", "is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name")}),
        (_("Access"), {"fields": ("is_active", "is_coordinator", "is_staff", "is_superuser", "groups")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    inlines = [MembershipInline]
    filter_horizontal = ["groups"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    form = MembershipForm
    list_display = ["member", "unit", "role", "since"]
    list_filter = ["role", "udn"]
    search_fields = ["user__email", "udn__name"]
    autocomplete_fields = ["user", "udn"]

    @admin.display(description=_("User"), ordering="user__email")
    def member(self, obj: Membership) -> str:
        return str(obj.user)

    @admin.display(description=_("UDN"), ordering="udn__name")
    def unit(self, obj: Membership) -> str:
        return str(obj.udn)

    @admin.display(description=_("Created"), ordering="created_at")
    def since(self, obj: Membership) -> datetime:
        return obj.created_at
