"""Mail: a real SMTP server (aiosmtpd) on loopback that Django sends to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.pytest_plugins.processes import free_port


@pytest.fixture
def smtp_server(settings) -> Iterator[list]:
    """A real SMTP server (aiosmtpd) on loopback; Django sends to it. Yields received messages."""
    from email import message_from_bytes

    from aiosmtpd.controller import Controller

    received: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            received.append(message_from_bytes(envelope.content))
            return "250 Message accepted for delivery"

    controller = Controller(Handler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield received
    controller.stop()
