"""A test send of a template to the person editing it ("Enviar teste para mim"): filled in with a
chosen affiliate's data, delivered to the tester's own address, through the outbox like any
message (source `test`), so it shows exactly what the affiliate would get."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from campaigns.models import Message, MessageSource, MessageTemplate
from campaigns.services import outbox
from crm.models import Affiliate
from crm.normalize import NormalizationError, phone_normalize


class TestSendError(Exception):
    """Why a test send was not queued, as people read it."""


def _address(channel: str, address: str) -> str:
    address = address.strip()
    if not address:
        raise TestSendError(_("Type where the test should go."))
    if channel == "email":
        try:
            validate_email(address)
        except ValidationError:
            raise TestSendError(_("“%(address)s” is not an e-mail address.") % {"address": address}) from None
        return address
    if channel in ("whatsapp", "sms"):
        try:
            phone = phone_normalize(address)
        except NormalizationError:
            phone = ""
        if not phone:
            raise TestSendError(_("Type a Brazilian mobile number, e.g. (11) 98765-4321."))
        return phone
    if channel == "telegram" and not re.fullmatch(r"-?\d{1,20}", address):
        raise TestSendError(_("A Telegram chat id is a number."))
    return address


@transaction.atomic
def template_test_send(
    *,
    template: MessageTemplate,
    address: str,
    affiliate: Affiliate | None,
    variables: Mapping[str, Any] | None = None,
) -> Message:
    """Queue `template` filled in with `affiliate`'s data for `address` (the tester's own, never
    the affiliate's): the outbox's message with source `test` and the address the sender must use
    instead of the affiliate's (`outbox.TEST_ADDRESS_KEY`)."""
    if template.pk is None:
        raise TestSendError(_("Save the template before sending a test."))
    if affiliate is None:
        raise TestSendError(_("Choose an affiliate in the preview: the test is filled in with their data."))
    to = _address(template.channel, address)
    # The sender delivers a test to the address stored under this key, never the affiliate's.
    return outbox.message_enqueue(
        affiliate=affiliate,
        templates={template.channel: template},
        chain=[template.channel],
        source=MessageSource.TEST,
        variables={**dict(variables or {}), outbox.TEST_ADDRESS_KEY: to},
        priority=10,
    )
