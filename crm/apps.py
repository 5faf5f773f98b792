from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _tick_figures() -> dict[str, object]:
    """What each UDN tick reports from the CRM (tenancy asks through udn_figures_register)."""
    from crm.selectors.affiliates import affiliate_count

    return {"affiliates": affiliate_count()}


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("CRM")

    def ready(self) -> None:
        from tenants.services import UDNPeriodicTask, udn_figures_register, udn_periodic_task_register

        udn_figures_register(_tick_figures)

        udn_periodic_task_register(
            UDNPeriodicTask(
                prefix="quality-snapshot",
                task="crm.quality_snapshot",
                description="Nightly data-quality snapshot",
                crontab="15 2 * * *",
            )
        )
        udn_periodic_task_register(
            UDNPeriodicTask(
                prefix="lake-export",
                task="crm.lake_export",
                description="Incremental Parquet export to the data lake",
                crontab="45 3 * * *",
            )
        )
        udn_periodic_task_register(
            UDNPeriodicTask(
                prefix="imports-reap",
                task="crm.imports_reap",
                description="Mark failed the imports whose worker died",
                every_seconds=60,
            )
        )
        udn_periodic_task_register(
            UDNPeriodicTask(
                prefix="webhooks-send",
                task="crm.webhooks_send",
                description="Send due webhook deliveries",
                every_seconds=30,
            )
        )
        udn_periodic_task_register(
            UDNPeriodicTask(
                prefix="webhooks-purge",
                task="crm.webhooks_purge",
                description="Delete webhook deliveries past WEBHOOK_LOG_RETENTION_DAYS",
                crontab="30 4 * * *",
            )
        )
        udn_periodic_task_register(
            UDNPeriodicTask(
                prefix="segments-refresh",
                task="crm.segments_refresh",
                description="Refresh the members of tracked segments",
                every_seconds=300,
            )
        )

        from crm import hooks
        from crm.services import segments, webhooks

        hooks.stage_changed.subscribe(webhooks.on_stage_changes)
        hooks.events_stored.subscribe(webhooks.on_events)
        hooks.consent_changed.subscribe(webhooks.on_consent_changes)
        # Tracked segments follow the changes their conditions mention (crm.services.segments).
        hooks.events_stored.subscribe(segments.on_events)
        hooks.consent_changed.subscribe(segments.on_consent_changes)
        hooks.affiliate_changed.subscribe(segments.on_affiliate_changes)
