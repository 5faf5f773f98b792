from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PressureConfig(AppConfig):
    """The cross-UDN contact-pressure budget, in the public schema: keyed CPF hashes and counts only
    (a SHARED app; the rest of campaigns lives in each UDN's schema)."""

    name = "campaigns.pressure"
    label = "pressure"
    verbose_name = _("Contact pressure")
