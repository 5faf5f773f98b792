"""Messages of third-party apps that ship no pt-BR catalog, translated in ours.

django-celery-beat's admin (periodic tasks) has no Portuguese; listing its messages here keeps
`makemessages` from dropping their translations from locale/pt_BR. Nothing imports this module.
"""

from django.utils.translation import gettext_noop

CELERY_BEAT_MESSAGES = [
    gettext_noop("Periodic Tasks"),
    gettext_noop("periodic task"),
    gettext_noop("periodic tasks"),
    gettext_noop("interval"),
    gettext_noop("intervals"),
    gettext_noop("crontab"),
    gettext_noop("crontabs"),
    gettext_noop("clocked"),
    gettext_noop("solar event"),
    gettext_noop("solar events"),
    gettext_noop("Enable selected tasks"),
    gettext_noop("Disable selected tasks"),
    gettext_noop("Toggle activity of selected tasks"),
    gettext_noop("Run selected tasks"),
    gettext_noop("Schedule"),
    gettext_noop("Interval Schedule"),
    gettext_noop("Crontab Schedule"),
    gettext_noop("Solar Schedule"),
    gettext_noop("Clocked Schedule"),
    gettext_noop("Start Datetime"),
    gettext_noop("Last Run Datetime"),
    gettext_noop("One-off Task"),
    gettext_noop("Total Run Count"),
    gettext_noop("Last Modified"),
    gettext_noop("Positional Arguments"),
    gettext_noop("Keyword Arguments"),
    gettext_noop("Set to False to disable the schedule"),
]
