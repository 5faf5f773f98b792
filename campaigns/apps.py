from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        from crm.api.base import api_urls_register
        from tenants.services import UDNPeriodicTask, udn_periodic_task_register

        # The partner API's messages (campaigns/api.py) under /api/v1/messages/.
        api_urls_register(prefix="messages/", urlconf="campaigns.api_urls")

        # The outbox's clock: due messages are rows, this takes them (enqueues also kick it).
        udn_periodic_task_register(
            UDNPeriodicTask(
                prefix="messages-send",
                task="campaigns.messages_send",
                description="Send due messages (the outbox)",
                every_seconds=10,
            )
        )

        # Journeys: events reach them after the ingest commits; the tick takes due enrollments.
        from campaigns.services import journeys
        from crm import hooks

        hooks.events_stored.subscribe(journeys.on_events_stored)
        hooks.segment_membership_changed.subscribe(journeys.on_segment_membership_changed)
        api_urls_register(prefix="journeys/", urlconf="campaigns.api_journeys_urls")
        udn_periodic_task_register(
            UDNPeriodicTask(
                prefix="journeys-tick",
                task="campaigns.journeys_tick",
                description="Journeys: date triggers and due enrollments",
                every_seconds=15,
            )
        )
        # Webhook steps' calls are due rows: this sends them and their retries.
        udn_periodic_task_register(
            UDNPeriodicTask(
                prefix="journey-webhooks",
                task="campaigns.journey_webhooks_send",
                description="Journeys: send due webhook calls",
                every_seconds=30,
            )
        )
        from crm.panels import affiliate_panel_register

        affiliate_panel_register(
            name="journeys",
            template="campaigns/journeys/_affiliate_panel.html",
            context="campaigns.views.journeys.affiliate_panel_context",
        )

        # A segment a journey or a broadcast still needs is not deleted (crm asks who uses it).
        from campaigns.selectors.segment_uses import campaigns_using_segment, journeys_using_segment
        from crm.segment_uses import segment_uses_register

        segment_uses_register(name="journeys", provider=journeys_using_segment)
        segment_uses_register(name="campaigns", provider=campaigns_using_segment)

        # The audit page labels the actions campaigns record (crm.audit_labels).
        from campaigns.audit import campaigns_audit_labels_register

        campaigns_audit_labels_register()

        # Scheduled campaigns start from this tick (due rows, never a long Celery ETA).
        udn_periodic_task_register(
            UDNPeriodicTask(
                prefix="campaigns-tick",
                task="campaigns.campaigns_tick",
                description="Start scheduled campaigns, finish sent ones",
                every_seconds=15,
            )
        )
