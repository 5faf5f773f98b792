"""E-mail from the War Room (Django's mail settings: the sandbox SMTP in development): mentions,
assignments, and the daily digest of actions due tomorrow or overdue. Always sent after the
change commits."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tenants.models import User
from warroom.models import Action


def _action_url(action: Action) -> str:
    scheme = "http" if settings.DEBUG or getattr(settings, "TESTING", False) else "https"
    port = f":{settings.DEV_PORT}" if settings.DEBUG else ""
    return f"{scheme}://{settings.BASE_DOMAIN}{port}/warroom/actions/{action.pk}/"


def _send_later(*, to: list[str], subject: str, body: str) -> None:
    recipients = sorted({address for address in to if address})
    if recipients:
        transaction.on_commit(
            lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)
        )


def notify_mentioned(*, action: Action, users: list[User], by: User, text: str) -> None:
    for user in users:
        if user.pk == by.pk:
            continue
        _send_later(
            to=[user.email],
            subject=_("%(who)s mentioned you in “%(action)s”") % {"who": by, "action": action.title},
            body=f"{text}\n\n{_action_url(action)}",
        )


def notify_assigned(*, action: Action, owner: User, by: User | None) -> None:
    if by is not None and owner.pk == by.pk:
        return
    deadline = action.deadline.strftime("%d/%m/%Y") if action.deadline else "—"
    _send_later(
        to=[owner.email],
        subject=_("You are responsible for “%(action)s”") % {"action": action.title},
        body=_("Deadline: %(deadline)s") % {"deadline": deadline} + f"\n\n{_action_url(action)}",
    )


def notify_due(*, today: date | None = None) -> int:
    """One e-mail per owner listing their open actions due tomorrow or overdue (the daily beat).
    Returns how many e-mails were sent."""
    today = today or timezone.localdate()
    tomorrow = today + timedelta(days=1)
    actions = (
        Action.objects.filter(deadline__lte=tomorrow, column__is_done=False, owner__isnull=False)
        .select_related("owner")
        .order_by("deadline", "pk")
    )
    by_owner: dict[User, list[Action]] = defaultdict(list)
    for action in actions:
        assert action.owner is not None
        by_owner[action.owner].append(action)
    for owner, owned in by_owner.items():
        lines = []
        for action in owned:
            assert action.deadline is not None
            state = (
                _("overdue")
                if action.deadline < today
                else _("due tomorrow")
                if action.deadline == tomorrow
                else _("due today")
            )
            lines.append(f"- {action.title} ({state}, {action.deadline:%d/%m/%Y}): {_action_url(action)}")
        send_mail(
            _("War Room: %(count)s action(s) due") % {"count": len(owned)},
            "\n".join(lines),
            settings.DEFAULT_FROM_EMAIL,
            [owner.email],
        )
    return len(by_owner)
