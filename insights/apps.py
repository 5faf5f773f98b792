from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InsightsConfig(AppConfig):
    name = "insights"
    verbose_name = _("Insights")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from crm import hooks
        from crm.api.base import api_urls_register
        from insights.tasks import on_affiliates_changed, on_affiliates_imported, on_events_stored
        from tenants.services import UDNPeriodicTask, udn_periodic_task_register

        hooks.events_stored.subscribe(on_events_stored)
        hooks.affiliate_changed.subscribe(on_affiliates_changed)
        hooks.affiliates_imported.subscribe(on_affiliates_imported)
        api_urls_register(prefix="spend/", urlconf="insights.api_urls")
        udn_periodic_task_register(
            UDNPeriodicTask(
                prefix="insights-rebuild",
                task="insights.rollups_rebuild",
                description="Insights: rebuild the daily rollups from the events",
                crontab="15 2 * * *",
            )
        )
        udn_periodic_task_register(
            UDNPeriodicTask(
                prefix="insights-weekly-report",
                task="insights.weekly_report",
                description="Insights: weekly e-mail report to the UDN's marketers",
                crontab="0 7 * * 1",
            )
        )
