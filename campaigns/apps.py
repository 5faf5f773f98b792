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

        # Scheduled campaigns start from this tick (due rows, never a long Celery ETA).
        udn_periodic_task_register(
            UDNPeriodicTask(
                prefix="campaigns-tick",
                task="campaigns.campaigns_tick",
                description="Start scheduled campaigns, finish sent ones",
                every_seconds=15,
            )
        )
