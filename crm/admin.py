"""The audit log in the Django admin (read-only), one UDN at a time.

The admin runs on the shared host, in the public schema, where no UDN table exists; each UDN's
log lives in its own schema. So the changelist takes the UDN from its "UDN" filter (`?udn=slug`,
the first UDN when none is given) and is built and rendered inside that UDN's schema. Entries
are listed with everything they say (no change page: there is nothing to change, and a page per
entry would need the UDN carried along too). The UDN's own page "Auditoria" shows the same log
to its members."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django_tenants.utils import schema_context

from crm.audit_labels import audit_action_labels
from crm.models import AuditEntry
from tenants.models import UDN

UDN_PARAM = "udn"


class UDNFilter(admin.SimpleListFilter):
    """Which UDN's log is shown. It filters nothing itself: the changelist runs in that UDN's
    schema (AuditEntryAdmin.changelist_view)."""

    title = _("UDN")
    parameter_name = UDN_PARAM

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(udn.slug, udn.name) for udn in _udns()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuditEntry]) -> QuerySet[AuditEntry]:
        return queryset

    def choices(self, changelist: Any) -> Any:
        # No "All": one UDN's log at a time.
        for choice in super().choices(changelist):
            if choice["query_string"] != changelist.get_query_string(remove=[self.parameter_name]):
                yield choice


def _udns() -> QuerySet[UDN]:
    return UDN.objects.exclude(schema_name="public").order_by("name")


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = [
        "at",
        "actor_kind",
        "actor_label",
        "action_label",
        "target_type",
        "target_id",
        "changes",
        "ip",
    ]
    list_display_links = None
    list_filter = [UDNFilter, "actor_kind", "target_type", "at"]
    search_fields = ["actor_label", "action", "target_id"]
    list_per_page = 50
    show_full_result_count = False
    ordering = ["-at", "-id"]

    @admin.display(description=_("action"), ordering="action")
    def action_label(self, obj: AuditEntry) -> str:
        return str(audit_action_labels().get(obj.action, obj.action))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        raise Http404  # the list says everything an entry holds (see the module's doc)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        udns = _udns()
        slug = request.GET.get(UDN_PARAM)
        udn = udns.filter(slug=slug).first() if slug else None
        if udn is None:
            first = udns.first()
            if first is None or slug:  # no UDN yet, or an unknown one (the public schema has no log)
                raise Http404(_("No such UDN."))
            query = request.GET.copy()
            query[UDN_PARAM] = first.slug
            return HttpResponseRedirect(f"{request.path}?{query.urlencode()}")
        context = {**(extra_context or {}), "title": _("Audit log of %(udn)s") % {"udn": udn.name}}
        with schema_context(udn.schema_name):
            response = super().changelist_view(request, context)
            if isinstance(response, TemplateResponse):
                response.render()  # the page's queries run now, in the UDN's schema
        return response
