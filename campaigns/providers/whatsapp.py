"""WhatsApp Cloud API (Meta Graph API).

Send: `POST {base_url}/{api_version}/{phone_number_id}/messages`, `Authorization: Bearer
<access_token>`, JSON `{"messaging_product": "whatsapp", "recipient_type": "individual", "to":
"5511987654321", "type": "template" | "text", ..., "biz_opaque_callback_data": <idempotency key>}`.
Answer: `{"messaging_product": "whatsapp", "contacts": [{"input", "wa_id"}], "messages": [{"id":
"wamid...."}]}`; the id is `messages[0].id`. Errors: `{"error": {"message", "type", "code",
"error_subcode", "fbtrace_id"}}`; retried when the HTTP status is 429 or 5xx or the Graph code is a
throttling or temporary one (RETRYABLE_CODES), final otherwise (bad token, bad parameter, a number
not on WhatsApp, a refused template, outside the 24-hour window).

The Cloud API has no idempotency key; `biz_opaque_callback_data` carries ours, so every status
webhook of the message names it too.

Statuses come back as webhooks (`/hooks/whatsapp/`, campaigns.views.hooks): `{"object":
"whatsapp_business_account", "entry": [{"id", "changes": [{"field": "messages", "value":
{"messaging_product", "metadata": {...}, "statuses": [{"id": "wamid...", "status": "sent" |
"delivered" | "read" | "failed", "timestamp": "<unix>", "recipient_id", "biz_opaque_callback_data",
"errors": [...]}]}}]}]}`, signed `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body with the
app secret>` (`whatsapp_signature`).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from campaigns.providers.base import (
    OutgoingMessage,
    Provider,
    SendResult,
    http_request,
    json_answer,
    json_body,
    send_each,
)
from crm.outbound import OutboundError

SIGNATURE_HEADER = "X-Hub-Signature-256"
# Graph error codes worth trying again later: throttling (4, 17, 32, 613, 80007, 130429, 131048
# spam rate limit, 131056 pair rate limit), temporary errors (1, 2, 131000, 131016, 133004).
RETRYABLE_CODES = frozenset({1, 2, 4, 17, 32, 613, 80007, 130429, 131000, 131016, 131048, 131056, 133004})


def whatsapp_signature(*, app_secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value Meta sends with a webhook body."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def whatsapp_signature_valid(*, app_secret: str, body: bytes, header: str) -> bool:
    return bool(app_secret) and hmac.compare_digest(
        whatsapp_signature(app_secret=app_secret, body=body), header
    )


def _digits(address: str) -> str:
    return "".join(ch for ch in address if ch.isdigit())


def graph_error(status: int, answer: dict[str, Any]) -> tuple[str, bool]:
    """(error text, retryable) of a Graph API error answer."""
    error: dict[str, Any] = answer["error"] if isinstance(answer.get("error"), dict) else {}
    code = error.get("code")
    text = f"HTTP {status}"
    if error:
        text += f" · ({code}) {error.get('message', '')}".rstrip()
        details = (error.get("error_data") or {}).get("details")
        if details:
            text += f" · {details}"
    retryable = status == 429 or status >= 500 or code in RETRYABLE_CODES
    return text, retryable


class WhatsAppProvider(Provider):
    protocol = "whatsapp_cloud"

    def _url(self, suffix: str) -> str:
        access = self.access
        base = access.setting("base_url").rstrip("/")
        return f"{base}/{access.setting('api_version')}/{access.setting('phone_number_id')}{suffix}"

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.access.secret('access_token')}",
            "Content-Type": "application/json",
        }

    def body_for(self, message: OutgoingMessage) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": _digits(message.address),
        }
        body.update({k: v for k, v in message.payload.items() if k not in ("messaging_product", "to")})
        body.setdefault("type", "text")
        body["biz_opaque_callback_data"] = message.idempotency_key
        return body

    def _send_one(self, message: OutgoingMessage) -> SendResult:
        response = http_request(
            self.access,
            method="POST",
            url=self._url("/messages"),
            headers=self._headers(),
            body=json_body(self.body_for(message)),
        )
        answer = json_answer(response.head)
        if 200 <= response.status < 300:
            messages = answer.get("messages") or [{}]
            provider_id = str(messages[0].get("id", ""))
            if provider_id:
                return SendResult(message_id=message.message_id, ok=True, provider_message_id=provider_id)
            return SendResult.failed(message, "HTTP 200 without messages[0].id", retryable=True)
        text, retryable = graph_error(response.status, answer)
        return SendResult.failed(message, text, retryable=retryable)

    def send(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        return send_each(messages, self._send_one)

    def check(self) -> str | None:
        try:
            response = http_request(self.access, method="GET", url=self._url(""), headers=self._headers())
        except OutboundError as error:
            return str(error)
        if 200 <= response.status < 300:
            return None
        return graph_error(response.status, json_answer(response.head))[0]
