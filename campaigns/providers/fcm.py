"""Push notifications through Firebase Cloud Messaging, HTTP v1.

Send: `POST {base_url}/v1/projects/{project_id}/messages:send` (base_url https://fcm.googleapis.com),
`Authorization: Bearer <OAuth2 access token>`, JSON `{"message": {"token": "<device token>",
"notification": {"title", "body"}, "data": {...}, "fcm_options": {"analytics_label": <idempotency
key>}}}`. Answer: `{"name": "projects/{project_id}/messages/{id}"}`, stored whole as the provider's
id. Errors: `{"error": {"code", "message", "status", "details": [{"@type":
"type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED" |
"INVALID_ARGUMENT" | "QUOTA_EXCEEDED" | "UNAVAILABLE" | "INTERNAL" | ...}]}}`: 429 and 5xx are
retried, a 401 once with a fresh token, the rest are final.

The access token comes from the service account's JSON key (a JWT grant to its `token_uri`), made
and refreshed by google-auth's service-account credentials, whose HTTP requests are carried by
crm.outbound like every other (`_OutboundTransport`). FCM has no idempotency key; the analytics
label carries ours. No delivery receipts come back.
"""

from __future__ import annotations

import hashlib
import json
import threading
from functools import cache
from typing import Any

import google.auth.exceptions
from google.auth import transport
from google.oauth2 import service_account

from campaigns.providers.base import (
    ChannelAccess,
    OutgoingMessage,
    Provider,
    SendResult,
    http_request,
    json_answer,
    json_body,
    send_each,
)
from crm.outbound import OutboundError

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
_credentials: dict[str, service_account.Credentials] = {}
_credentials_lock = threading.Lock()


class _Response(transport.Response):
    def __init__(self, status: int, data: bytes) -> None:
        self._status, self._data = status, data

    @property
    def status(self) -> int:
        return self._status

    @property
    def headers(self) -> dict[str, str]:
        return {}

    @property
    def data(self) -> bytes:
        return self._data


class _OutboundTransport(transport.Request):
    """google-auth's HTTP requests (the token grant) through crm.outbound."""

    def __init__(self, access: ChannelAccess) -> None:
        self.access = access

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):  # type: ignore[no-untyped-def]
        data = body.encode() if isinstance(body, str) else body
        try:
            response = http_request(
                self.access, method=method, url=url, headers=dict(headers or {}), body=data
            )
        except OutboundError as error:
            raise google.auth.exceptions.TransportError(str(error)) from error
        return _Response(response.status, response.head)


@cache
def _sandbox_key_pem() -> str:
    """One RSA key per process for the sandbox's service accounts (the sandbox checks the grant's
    claims, not this key's signature: it cannot know a key another process made)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def sandbox_service_account(*, schema: str, base_url: str) -> dict[str, str]:
    project = f"sandbox-{schema.replace('_', '-')}"
    return {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "sandbox",
        "private_key": _sandbox_key_pem(),
        "client_email": f"crm-sender@{project}.iam.gserviceaccount.com",
        "client_id": "100000000000000000001",
        "token_uri": f"{base_url}/token",
    }


def fcm_error(status: int, answer: dict[str, Any]) -> tuple[str, bool]:
    error: dict[str, Any] = answer["error"] if isinstance(answer.get("error"), dict) else {}
    codes = [
        str(d["errorCode"]) for d in error.get("details") or [] if isinstance(d, dict) and d.get("errorCode")
    ]
    text = f"HTTP {status}"
    if error:
        text += f" · {error.get('status', '')} {error.get('message', '')}".rstrip()
    if codes:
        text += f" · {', '.join(codes)}"
    return text, status == 429 or status >= 500


class FcmProvider(Provider):
    protocol = "fcm"

    def _credentials(self, *, fresh: bool = False) -> service_account.Credentials:
        raw = self.access.secret("service_account_json")
        key = hashlib.sha256(raw.encode()).hexdigest()
        with _credentials_lock:
            credentials = _credentials.get(key)
            if credentials is None:
                info = json.loads(raw)
                credentials = service_account.Credentials.from_service_account_info(info, scopes=[FCM_SCOPE])
                _credentials[key] = credentials
            if fresh or not credentials.valid:
                credentials.refresh(_OutboundTransport(self.access))
        return credentials

    def _url(self) -> str:
        base = self.access.setting("base_url").rstrip("/")
        return f"{base}/v1/projects/{self.access.setting('project_id')}/messages:send"

    def body_for(self, message: OutgoingMessage) -> dict[str, Any]:
        payload = message.payload
        fcm_message = dict(payload["message"] if isinstance(payload.get("message"), dict) else payload)
        if not any(fcm_message.get(target) for target in ("token", "topic", "condition")):
            fcm_message["token"] = message.address
        options = dict(fcm_message.get("fcm_options") or {})
        options.setdefault("analytics_label", message.idempotency_key)
        fcm_message["fcm_options"] = options
        return {"message": fcm_message}

    def _post(self, message: OutgoingMessage, token: str) -> tuple[int, dict[str, Any]]:
        response = http_request(
            self.access,
            method="POST",
            url=self._url(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json; UTF-8"},
            body=json_body(self.body_for(message)),
        )
        return response.status, json_answer(response.head)

    def send(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        if not messages:
            return []
        try:
            token = str(self._credentials().token)
        except (google.auth.exceptions.GoogleAuthError, ValueError, KeyError) as error:
            retryable = isinstance(error, google.auth.exceptions.TransportError)
            return [SendResult.failed(m, f"OAuth2: {error}", retryable=retryable) for m in messages]

        def one(message: OutgoingMessage) -> SendResult:
            status, answer = self._post(message, token)
            if status == 401:  # the token expired or was revoked: one more try with a new one
                try:
                    fresh = str(self._credentials(fresh=True).token)
                except (google.auth.exceptions.GoogleAuthError, ValueError) as error:
                    return SendResult.failed(message, f"OAuth2: {error}", retryable=True)
                status, answer = self._post(message, fresh)
            if 200 <= status < 300 and answer.get("name"):
                return SendResult(
                    message_id=message.message_id, ok=True, provider_message_id=str(answer["name"])
                )
            text, retryable = fcm_error(status, answer)
            return SendResult.failed(message, text, retryable=retryable)

        return send_each(messages, one)

    def check(self) -> str | None:
        try:
            self._credentials(fresh=True)
        except (google.auth.exceptions.GoogleAuthError, ValueError, KeyError) as error:
            return f"OAuth2: {error}"
        return None
