from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = _("Loyalty")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from crm import hooks
        from crm.api.base import api_urls_register
        from loyalty.services.earning import on_events_stored
        from tenants.services import UDNPeriodicTask, udn_periodic_task_register

        hooks.events_stored.subscribe(on_events_stored)
        # A segment a live or draft rule names is not deleted (crm asks who uses it).
        from crm.segment_uses import segment_uses_register
        from loyalty.selectors.segment_uses import loyalty_rules_using_segment

        segment_uses_register(name="loyalty", provider=loyalty_rules_using_segment)
        # The audit page labels the actions loyalty records (crm.audit_labels).
        from loyalty.audit import loyalty_audit_labels_register

        loyalty_audit_labels_register()
        api_urls_register(prefix="loyalty/", urlconf="loyalty.api_urls")
        try:
            from crm.panels import affiliate_panel_register
        except ImportError:  # pragma: no cover - the registry lives in crm
            pass
        else:
            affiliate_panel_register(
                name="loyalty",
                template="loyalty/_affiliate_panel.html",
                context="loyalty.views.affiliate_panel_context",
            )
        udn_periodic_task_register(
            UDNPeriodicTask(
                prefix="loyalty-daily",
                task="loyalty.daily",
                description="Loyalty: expire points (FIFO), warn before expiry, ranking alerts",
                crontab="30 3 * * *",
            )
        )
