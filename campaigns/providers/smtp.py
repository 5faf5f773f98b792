"""E-mail over SMTP with Django's SMTP EmailBackend (host, port, login, STARTTLS or implicit TLS from
the channel's settings): one connection per batch, one result per message.

Each message carries `Message-ID: <idempotency-key@sender's domain>`, so a retry of the same message
is recognisable as the same message (by the sandbox, which stores it once, and by any mail log);
its text and HTML parts and the headers campaigns.templating renders (List-Unsubscribe,
List-Unsubscribe-Post) are sent as they are.

The SMTP host is checked like an HTTP provider's (crm.outbound: every address it resolves to must be
public unless private addresses are allowed) before connecting; smtplib then connects by name,
which STARTTLS's certificate check needs.
"""

from __future__ import annotations

import contextlib
import smtplib
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend

from campaigns.providers.base import OutgoingMessage, Provider, SendResult
from crm.outbound import OutboundRefused, outbound_check

SMTP_TIMEOUT_SECONDS = 20
# Message-ID headers a message may carry are ours; these are the renderer's extra headers we never
# pass on (the envelope and the Message-ID are set here).
RESERVED_HEADERS = frozenset({"message-id", "from", "to", "subject"})


def message_id_for(*, idempotency_key: str, from_email: str) -> str:
    domain = parseaddr(from_email)[1].rpartition("@")[2] or "localhost"
    return f"<{idempotency_key}@{domain}>"


class SmtpProvider(Provider):
    protocol = "smtp"

    def _backend(self) -> EmailBackend:
        access = self.access
        host = access.setting("host")
        # Checks the host's addresses only (the port is SMTP's, not HTTP's).
        outbound_check(url=f"https://{host}/", allow_private=access.allow_private)
        return EmailBackend(
            host=host,
            port=int(access.setting("port") or 25),
            username=access.setting("username") or None,
            password=access.secret("password") or None,
            use_tls=access.setting("use_tls") == "1",
            use_ssl=access.setting("use_ssl") == "1",
            timeout=SMTP_TIMEOUT_SECONDS,
            fail_silently=False,
        )

    def _from_email(self, message: OutgoingMessage) -> str:
        return str(
            message.payload.get("from_email")
            or self.access.setting("from_email")
            or settings.DEFAULT_FROM_EMAIL
        )

    def email_for(self, message: OutgoingMessage) -> EmailMultiAlternatives:
        payload = message.payload
        from_email = self._from_email(message)
        headers = {
            name: str(value)
            for name, value in (payload.get("headers") or {}).items()
            if name.lower() not in RESERVED_HEADERS
        }
        headers["Message-ID"] = message_id_for(idempotency_key=message.idempotency_key, from_email=from_email)
        reply_to = payload.get("reply_to")
        email = EmailMultiAlternatives(
            subject=str(payload.get("subject", "")),
            body=str(payload.get("text", "")),
            from_email=from_email,
            to=[message.address],
            headers=headers,
            reply_to=[reply_to] if reply_to else None,
        )
        if payload.get("html"):
            email.attach_alternative(str(payload["html"]), "text/html")
        return email

    def send(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        if not messages:
            return []
        try:
            backend = self._backend()
            backend.open()
        except OutboundRefused as error:
            return [SendResult.failed(m, str(error), retryable=False) for m in messages]
        except smtplib.SMTPAuthenticationError as error:
            return [SendResult.failed(m, _smtp_error(error), retryable=False) for m in messages]
        except (smtplib.SMTPException, OSError) as error:
            return [
                SendResult.failed(m, f"{type(error).__name__}: {error}", retryable=True) for m in messages
            ]
        results: list[SendResult] = []
        try:
            for message in messages:
                results.append(self._send_one(backend, message))
        finally:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                backend.close()
        return results

    def _send_one(self, backend: EmailBackend, message: OutgoingMessage) -> SendResult:
        email = self.email_for(message)
        message_id = email.extra_headers["Message-ID"]
        try:
            if backend.connection is None:
                backend.open()
            assert backend.connection is not None
            backend.connection.sendmail(
                parseaddr(email.from_email)[1],
                email.recipients(),
                email.message().as_bytes(linesep="\r\n"),  # type: ignore[call-arg]  # Django's MIME classes take it
            )
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()))
            return SendResult.failed(message, f"{code} {_text(text)}", retryable=400 <= code < 500)
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as error:
            return SendResult.failed(message, _smtp_error(error), retryable=400 <= error.smtp_code < 500)
        except (smtplib.SMTPException, OSError) as error:
            # The connection broke: this message may be retried, the next ones get a new connection.
            backend.connection = None
            return SendResult.failed(message, f"{type(error).__name__}: {error}", retryable=True)
        return SendResult(message_id=message.message_id, ok=True, provider_message_id=message_id)

    def check(self) -> str | None:
        try:
            backend = self._backend()
            backend.open()
            assert backend.connection is not None
            backend.connection.noop()
            backend.close()
        except OutboundRefused as error:
            return str(error)
        except (smtplib.SMTPException, OSError) as error:
            return f"{type(error).__name__}: {_smtp_error(error)}"
        return None


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _smtp_error(error: BaseException) -> str:
    code = getattr(error, "smtp_code", None)
    text = getattr(error, "smtp_error", None)
    if code is not None and text is not None:
        return f"{code} {_text(text)}"
    return str(error)
