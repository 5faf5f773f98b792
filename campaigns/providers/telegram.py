"""Telegram Bot API.

Send: `POST {base_url}/bot<bot_token>/sendMessage` (base_url https://api.telegram.org), JSON
`{"chat_id": <the affiliate's linked chat>, "text": ..., "reply_markup": {"inline_keyboard":
[[{"text": "Abrir o app", "url": "https://..."}]]}}`. Answer: `{"ok": true, "result": {"message_id":
42, "chat": {...}, "date", "text", ...}}`; the id is `result.message_id` (unique within the chat, so
it is stored as "<chat_id>:<message_id>"). Errors: `{"ok": false, "error_code": 400 | 403 | 429,
"description": "...", "parameters": {"retry_after": s}}`; 429 and 5xx are retried, 400 (chat not
found), 401 (bad token) and 403 (the person blocked the bot) are final.

Telegram has no delivery receipts and no idempotency key: a message is "sent" at best.
"""

from __future__ import annotations

from dataclasses import replace
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


def telegram_error(status: int, answer: dict[str, Any]) -> tuple[str, bool]:
    code = int(answer.get("error_code") or status)
    text = f"HTTP {status} · {answer.get('description', '')}".rstrip(" ·")
    retry_after = (answer.get("parameters") or {}).get("retry_after")
    if retry_after:
        text += f" (retry after {retry_after} s)"
    return text, code == 429 or status == 429 or status >= 500


class TelegramProvider(Provider):
    protocol = "telegram"

    def _url(self, method: str) -> str:
        base = self.access.setting("base_url").rstrip("/")
        return f"{base}/bot{self.access.secret('bot_token')}/{method}"

    def body_for(self, message: OutgoingMessage) -> dict[str, Any]:
        chat: int | str = int(message.address) if message.address.lstrip("-").isdigit() else message.address
        return {"chat_id": chat, **{k: v for k, v in message.payload.items() if k != "chat_id"}}

    def _send_one(self, message: OutgoingMessage) -> SendResult:
        response = http_request(
            self.access,
            method="POST",
            url=self._url("sendMessage"),
            headers={"Content-Type": "application/json"},
            body=json_body(self.body_for(message)),
        )
        answer = json_answer(response.head)
        result: dict[str, Any] = answer["result"] if isinstance(answer.get("result"), dict) else {}
        if answer.get("ok") is True and result.get("message_id") is not None:
            chat_id = (result.get("chat") or {}).get("id", message.address)
            return SendResult(
                message_id=message.message_id,
                ok=True,
                provider_message_id=f"{chat_id}:{result['message_id']}",
            )
        text, retryable = telegram_error(response.status, answer)
        return SendResult.failed(message, text, retryable=retryable)

    def send(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        token = self.access.secret("bot_token")
        results = send_each(messages, self._send_one)
        # The bot token is in the URL: an error that quotes the URL must not keep it.
        return [
            replace(r, error=r.error.replace(token, "…")) if token and token in r.error else r
            for r in results
        ]

    def check(self) -> str | None:
        try:
            response = http_request(self.access, method="GET", url=self._url("getMe"), headers={})
        except OutboundError as error:
            return str(error).replace(self.access.secret("bot_token") or "\0", "…")
        answer = json_answer(response.head)
        if answer.get("ok") is True:
            return None
        return telegram_error(response.status, answer)[0]
