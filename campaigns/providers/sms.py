"""SMS through Zenvia (API v2), a common Brazilian gateway.

Send: `POST {base_url}/v2/channels/sms/messages` (base_url https://api.zenvia.com), header
`X-API-TOKEN: <api_token>`, JSON

    {"from": "<sender ID>", "to": "5511987654321",
     "contents": [{"type": "text", "text": "Olá, Ana!"}],
     "externalId": "<the message's idempotency key>"}

`to` is the number with country code and DDD, digits only. Answer (200): the message as Zenvia
stored it, `{"id": "<Zenvia's id>", "from", "to", "direction": "OUT", "channel": "sms", "contents":
[...], "externalId"}`; the id is `id`. Errors: `{"code": "VALIDATION_ERROR" | "UNAUTHORIZED" | ...,
"message", "details": [{"code", "path", "message"}]}`; 429 and 5xx are retried, other 4xx are final.

Statuses come back to a subscription's webhook (`/hooks/sms/`): `{"id", "timestamp", "type":
"MESSAGE_STATUS", "subscriptionId", "channel": "sms", "messageId": "<Zenvia's id>",
"contentIndex": 0, "messageStatus": {"timestamp", "code": "SENT" | "DELIVERED" | "NOT_DELIVERED" |
"REJECTED", "description", "causes": [{"reason", "details"}]}}`. Zenvia signs nothing: the
subscription is created with `webhook.headers` `{"X-Webhook-Token": <webhook_token>}`, and the
receiver compares that header with the channel's `webhook_token` secret (the sandbox sends it so).
"""

from __future__ import annotations

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

WEBHOOK_TOKEN_HEADER = "X-Webhook-Token"  # noqa: S105 - a header name


def zenvia_error(status: int, answer: dict[str, Any]) -> tuple[str, bool]:
    text = f"HTTP {status}"
    if answer.get("code") or answer.get("message"):
        text += f" · {answer.get('code', '')} {answer.get('message', '')}".rstrip()
    for detail in answer.get("details") or []:
        if isinstance(detail, dict):
            text += f" · {detail.get('path', '')}: {detail.get('message', '')}"
    return text, status == 429 or status >= 500


class ZenviaSmsProvider(Provider):
    protocol = "sms_gateway"

    def _headers(self) -> dict[str, str]:
        return {"X-API-TOKEN": self.access.secret("api_token"), "Content-Type": "application/json"}

    def body_for(self, message: OutgoingMessage) -> dict[str, Any]:
        return {
            "from": self.access.setting("sender"),
            "to": "".join(ch for ch in message.address if ch.isdigit()),
            "contents": [{"type": "text", "text": str(message.payload.get("text", ""))}],
            "externalId": message.idempotency_key,
        }

    def _send_one(self, message: OutgoingMessage) -> SendResult:
        base = self.access.setting("base_url").rstrip("/")
        response = http_request(
            self.access,
            method="POST",
            url=f"{base}/v2/channels/sms/messages",
            headers=self._headers(),
            body=json_body(self.body_for(message)),
        )
        answer = json_answer(response.head)
        if 200 <= response.status < 300 and answer.get("id"):
            return SendResult(message_id=message.message_id, ok=True, provider_message_id=str(answer["id"]))
        text, retryable = zenvia_error(response.status, answer)
        return SendResult.failed(message, text, retryable=retryable or 200 <= response.status < 300)

    def send(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        return send_each(messages, self._send_one)

    def check(self) -> str | None:
        base = self.access.setting("base_url").rstrip("/")
        try:
            response = http_request(
                self.access, method="GET", url=f"{base}/v2/subscriptions", headers=self._headers()
            )
        except OutboundError as error:
            return str(error)
        if 200 <= response.status < 300:
            return None
        return zenvia_error(response.status, json_answer(response.head))[0]
