from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WarroomConfig(AppConfig):
    name = "warroom"
    verbose_name = _("War Room")

    def ready(self) -> None:
        from warroom import changes

        changes.subscribe()
