"""The sandbox's servers on one asyncio loop: SMTP (aiosmtpd) and HTTP (aiohttp), plus the status
callbacks. Database work runs on one thread of its own (campaigns.sandbox.store)."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import hmac
import itertools
import json
import logging
import re
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import aiohttp
from aiohttp import web
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import close_old_connections
from google.auth import jwt as google_jwt

from campaigns.providers.base import ChannelAccess, sandbox_secret, sandbox_settings
from campaigns.providers.fcm import FCM_SCOPE
from campaigns.providers.sms import WEBHOOK_TOKEN_HEADER
from campaigns.providers.whatsapp import SIGNATURE_HEADER, whatsapp_signature
from campaigns.sandbox import store

log = logging.getLogger("campaigns.sandbox")
T = TypeVar("T")

# Retried requests answered from memory (the same id, nothing stored or called back twice).
SEEN_KEEP = 200_000
CALLBACK_ATTEMPTS = 3
CALLBACK_TIMEOUT_SECONDS = 10
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
# A Brazilian mobile 55 DD 9 0000 CCCC makes the sandbox behave as a provider does on trouble:
# CCCC 0400 invalid parameter, 0429 throttled, 0500 server error (answered at once), 0001 accepted
# but undeliverable (a failed status follows).
MAGIC_NUMBER = re.compile(r"^55\d{2}90000(\d{4})$")
# Telegram chat ids and FCM tokens that do the same.
MAGIC_CHATS = {"400": "0400", "403": "0403", "429": "0429", "500": "0500"}
MAGIC_TOKENS = {"sandbox-invalid": "0400", "sandbox-unregistered": "0404", "sandbox-unavailable": "0500"}


def magic_of(address: str) -> str:
    match = MAGIC_NUMBER.match("".join(ch for ch in str(address) if ch.isdigit()))
    return match.group(1) if match else ""


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Sandbox:
    def __init__(self, *, host: str, smtp_port: int, http_port: int, callback_url: str, delay: float) -> None:
        self.host, self.smtp_port, self.http_port = host, smtp_port, http_port
        self.callback_url = callback_url.rstrip("/")
        self.delay = delay
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-db")
        self._seen: OrderedDict[tuple[str, str, str], dict[str, Any]] = OrderedDict()
        self._fcm_tokens: dict[str, str] = {}  # access token -> schema
        self._telegram_ids = itertools.count(int(time.time() * 1000) % 1_000_000_000)
        self._telegram_updates = itertools.count(int(time.time()) % 1_000_000_000)
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    # --- plumbing -----------------------------------------------------------------------------
    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        def run() -> T:
            close_old_connections()
            return fn(*args, **kwargs)

        return await asyncio.get_running_loop().run_in_executor(self._db, partial(run))

    def _remember(self, key: tuple[str, str, str], answer: dict[str, Any]) -> None:
        self._seen[key] = answer
        while len(self._seen) > SEEN_KEEP:
            self._seen.popitem(last=False)

    def _later(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CALLBACK_TIMEOUT_SECONDS))
        self._smtp = await loop.create_server(self._smtp_protocol, self.host, self.smtp_port)
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.http_port).start()
        log.info(
            "sandbox: SMTP on %s:%s, HTTP on %s:%s", self.host, self.smtp_port, self.host, self.http_port
        )

    async def stop(self) -> None:
        self._smtp.close()
        await self._runner.cleanup()
        for task in list(self._tasks):
            task.cancel()
        if self._session is not None:
            await self._session.close()
        self._db.shutdown(wait=True)

    # --- SMTP -----------------------------------------------------------------------------------
    def _smtp_protocol(self) -> SMTP:
        return SMTP(
            _SmtpHandler(self),
            hostname="sandbox.localhost",
            authenticator=self._smtp_authenticate,
            auth_required=True,
            auth_require_tls=False,
        )

    def _smtp_authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """The login names the UDN (its schema); the password is that UDN's sandbox password."""
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        expected = sandbox_secret(schema=login, name="smtp")
        if hmac.compare_digest(auth_data.password.decode("utf-8", "replace"), expected):
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    # --- HTTP -----------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        prefix = "/udn/{schema}"
        app.router.add_post(prefix + "/v2/channels/sms/messages", self.zenvia_send)
        app.router.add_get(prefix + "/v2/subscriptions", self.zenvia_subscriptions)
        app.router.add_post(prefix + "/token", self.oauth_token)
        app.router.add_post(prefix + "/v1/projects/{project}/messages:send", self.fcm_send)
        app.router.add_post(prefix + "/bot{token}/sendMessage", self.telegram_send)
        app.router.add_get(prefix + "/bot{token}/getMe", self.telegram_get_me)
        app.router.add_post(prefix + "/bot{token}/sandbox/receive", self.telegram_receive)
        app.router.add_post(prefix + "/{version}/{phone_number_id}/messages", self.whatsapp_send)
        app.router.add_get(prefix + "/{version}/{phone_number_id}", self.whatsapp_phone_number)
        return app

    async def _access(self, request: web.Request, channel: str) -> tuple[str, ChannelAccess] | None:
        schema = request.match_info["schema"]
        if not await self.db(store.udn_exists, schema):
            return None
        return schema, await self.db(store.access_for, schema, channel)

    @staticmethod
    def _issued(schema: str, channel: str, name: str) -> str:
        """The credential the sandbox "issued" to a UDN (as Meta, Zenvia or Telegram issue theirs):
        a UDN sends with it whether its channel is the sandbox or a real provider pointed here."""
        return sandbox_settings(channel=channel, schema=schema)[1][name]

    @staticmethod
    async def _json(request: web.Request) -> dict[str, Any] | None:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return None
        return body if isinstance(body, dict) else None

    # WhatsApp Cloud API ------------------------------------------------------------------------
    @staticmethod
    def _graph_error(status: int, code: int, message: str, kind: str = "OAuthException") -> web.Response:
        error = {"message": message, "type": kind, "code": code, "fbtrace_id": secrets.token_urlsafe(12)}
        return web.json_response({"error": error}, status=status)

    async def _whatsapp_auth(self, request: web.Request) -> tuple[str, ChannelAccess] | web.Response:
        found = await self._access(request, "whatsapp")
        if found is None:
            return self._graph_error(404, 803, "Some of the aliases you requested do not exist")
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not token or not hmac.compare_digest(token, self._issued(found[0], "whatsapp", "access_token")):
            return self._graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        if request.match_info["phone_number_id"] != found[1].setting("phone_number_id"):
            return self._graph_error(
                400,
                100,
                f"Unsupported post request. Object with ID '{request.match_info['phone_number_id']}' "
                "does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
                "GraphMethodException",
            )
        return found

    async def whatsapp_phone_number(self, request: web.Request) -> web.Response:
        found = await self._whatsapp_auth(request)
        if isinstance(found, web.Response):
            return found
        return web.json_response(
            {
                "verified_name": "UDN Sandbox",
                "display_phone_number": "+55 11 3000-0000",
                "id": request.match_info["phone_number_id"],
                "quality_rating": "GREEN",
            }
        )

    async def whatsapp_send(self, request: web.Request) -> web.Response:
        found = await self._whatsapp_auth(request)
        if isinstance(found, web.Response):
            return found
        schema, access = found
        body = await self._json(request)
        invalid = "(#100) Invalid parameter"
        if body is None or body.get("messaging_product") != "whatsapp":
            return self._graph_error(400, 100, "(#100) The parameter messaging_product is required.")
        to = "".join(ch for ch in str(body.get("to", "")) if ch.isdigit())
        kind = body.get("type", "text")
        if not to:
            return self._graph_error(400, 100, "(#100) The parameter to is required.")
        if kind == "text":
            text = (body.get("text") or {}).get("body", "")
            if not text:
                return self._graph_error(400, 100, "(#100) The parameter text['body'] is required.")
            subject = ""
        elif kind == "template":
            template = body.get("template") or {}
            if not template.get("name") or not (template.get("language") or {}).get("code"):
                return self._graph_error(400, 100, invalid)
            subject = str(template["name"])
            params = [
                str(p.get("text", ""))
                for component in template.get("components") or []
                for p in component.get("parameters") or []
                if isinstance(p, dict)
            ]
            text = " · ".join(params)
        elif kind == "interactive":
            text = str(((body.get("interactive") or {}).get("body") or {}).get("text", ""))
            subject = ""
        else:
            return self._graph_error(400, 100, invalid)
        magic = magic_of(to)
        if magic == "0400":
            return self._graph_error(400, 131009, "(#131009) Parameter value is not valid")
        if magic == "0429":
            return self._graph_error(429, 130429, "(#130429) Rate limit hit", "OAuthException")
        if magic == "0500":
            return self._graph_error(500, 131000, "(#131000) Something went wrong")
        reference = str(body.get("biz_opaque_callback_data", ""))
        key = (schema, "whatsapp", reference)
        if reference and key in self._seen:
            return web.json_response(self._seen[key])
        wamid = "wamid." + base64.b64encode(b"\x15\x02" + secrets.token_bytes(22)).decode()
        answer: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": str(body.get("to")), "wa_id": to}],
            "messages": [{"id": wamid, **({"message_status": "accepted"} if kind == "template" else {})}],
        }
        await self.db(
            store.sandbox_message_record,
            schema,
            channel="whatsapp",
            to=to,
            provider_message_id=wamid,
            payload=body,
            subject=subject,
            body_text=text,
        )
        if reference:
            self._remember(key, answer)
        steps = ["failed"] if magic == "0001" else ["sent", "delivered", "read"]
        self._later(
            self._whatsapp_statuses(schema, access, wamid=wamid, to=to, reference=reference, steps=steps)
        )
        return web.json_response(answer)

    async def _whatsapp_statuses(
        self, schema: str, access: ChannelAccess, *, wamid: str, to: str, reference: str, steps: list[str]
    ) -> None:
        for step in steps:
            await asyncio.sleep(self.delay)
            status: dict[str, Any] = {
                "id": wamid,
                "status": step,
                "timestamp": str(int(time.time())),
                "recipient_id": to,
            }
            if reference:
                status["biz_opaque_callback_data"] = reference
            if step in ("sent", "delivered"):
                status["conversation"] = {"id": uuid.uuid4().hex, "origin": {"type": "marketing"}}
                status["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "marketing"}
            if step == "failed":
                status["errors"] = [
                    {
                        "code": 131026,
                        "title": "Message undeliverable",
                        "message": "Message undeliverable",
                        "error_data": {"details": "The recipient cannot receive this message (sandbox)."},
                    }
                ]
            body = {
                "object": "whatsapp_business_account",
                "entry": [
                    {
                        "id": "100000000000000",
                        "changes": [
                            {
                                "value": {
                                    "messaging_product": "whatsapp",
                                    "metadata": {
                                        "display_phone_number": "551130000000",
                                        "phone_number_id": access.setting("phone_number_id"),
                                    },
                                    "statuses": [status],
                                },
                                "field": "messages",
                            }
                        ],
                    }
                ],
            }
            raw = json.dumps(body, separators=(",", ":")).encode()
            headers = {SIGNATURE_HEADER: whatsapp_signature(app_secret=access.secret("app_secret"), body=raw)}
            await self._callback(schema, access, "whatsapp", raw, headers)

    # Zenvia SMS --------------------------------------------------------------------------------
    @staticmethod
    def _zenvia_error(
        status: int, code: str, message: str, details: list[dict[str, str]] | None = None
    ) -> web.Response:
        body: dict[str, Any] = {"code": code, "message": message}
        if details:
            body["details"] = details
        return web.json_response(body, status=status)

    async def _zenvia_auth(self, request: web.Request) -> tuple[str, ChannelAccess] | web.Response:
        found = await self._access(request, "sms")
        if found is None:
            return self._zenvia_error(404, "NOT_FOUND", "Not found")
        token = request.headers.get("X-API-TOKEN", "")
        if not token or not hmac.compare_digest(token, self._issued(found[0], "sms", "api_token")):
            return self._zenvia_error(401, "UNAUTHORIZED", "Unauthorized")
        return found

    async def zenvia_subscriptions(self, request: web.Request) -> web.Response:
        found = await self._zenvia_auth(request)
        if isinstance(found, web.Response):
            return found
        return web.json_response([])

    async def zenvia_send(self, request: web.Request) -> web.Response:
        found = await self._zenvia_auth(request)
        if isinstance(found, web.Response):
            return found
        schema, access = found
        body = await self._json(request)
        if body is None:
            return self._zenvia_error(
                400,
                "VALIDATION_ERROR",
                "Validation error",
                [{"code": "INVALID_FORMAT", "path": "body", "message": "must be a JSON object"}],
            )
        problems = []
        to = str(body.get("to", ""))
        contents = body.get("contents")
        if not body.get("from"):
            problems.append({"code": "REQUIRED", "path": "from", "message": "is required"})
        if not to.isdigit():
            problems.append({"code": "INVALID_FORMAT", "path": "to", "message": "must be digits only"})
        if (
            not isinstance(contents, list)
            or not contents
            or contents[0].get("type") != "text"
            or not contents[0].get("text")
        ):
            problems.append(
                {"code": "INVALID_FORMAT", "path": "contents", "message": "must hold a text content"}
            )
        if problems:
            return self._zenvia_error(400, "VALIDATION_ERROR", "Validation error", problems)
        magic = magic_of(to)
        if magic == "0400":
            return self._zenvia_error(
                400,
                "VALIDATION_ERROR",
                "Validation error",
                [{"code": "INVALID_FORMAT", "path": "to", "message": "invalid number"}],
            )
        if magic == "0429":
            return self._zenvia_error(429, "TOO_MANY_REQUESTS", "Too many requests")
        if magic == "0500":
            return self._zenvia_error(500, "INTERNAL_ERROR", "Internal error")
        reference = str(body.get("externalId", ""))
        key = (schema, "sms", reference)
        if reference and key in self._seen:
            return web.json_response(self._seen[key])
        message_id = str(uuid.uuid4())
        answer = {
            "id": message_id,
            "from": body["from"],
            "to": to,
            "direction": "OUT",
            "channel": "sms",
            "contents": contents,
            **({"externalId": reference} if reference else {}),
        }
        assert isinstance(contents, list)
        await self.db(
            store.sandbox_message_record,
            schema,
            channel="sms",
            to=to,
            provider_message_id=message_id,
            payload=body,
            body_text=str(contents[0]["text"]),
        )
        if reference:
            self._remember(key, answer)
        steps = ["SENT", "NOT_DELIVERED"] if magic == "0001" else ["SENT", "DELIVERED"]
        self._later(self._zenvia_statuses(schema, access, message_id=message_id, steps=steps))
        return web.json_response(answer)

    async def _zenvia_statuses(
        self, schema: str, access: ChannelAccess, *, message_id: str, steps: list[str]
    ) -> None:
        descriptions = {"SENT": "Sent", "DELIVERED": "Delivered", "NOT_DELIVERED": "Not delivered"}
        for step in steps:
            await asyncio.sleep(self.delay)
            status: dict[str, Any] = {
                "timestamp": _now_iso(),
                "code": step,
                "description": descriptions[step],
            }
            if step == "NOT_DELIVERED":
                status["causes"] = [
                    {"reason": "UNREACHABLE", "details": "The handset did not answer (sandbox)."}
                ]
            body = {
                "id": str(uuid.uuid4()),
                "timestamp": _now_iso(),
                "type": "MESSAGE_STATUS",
                "subscriptionId": f"sandbox-{schema}",
                "channel": "sms",
                "messageId": message_id,
                "contentIndex": 0,
                "messageStatus": status,
            }
            raw = json.dumps(body, separators=(",", ":")).encode()
            await self._callback(
                schema, access, "sms", raw, {WEBHOOK_TOKEN_HEADER: access.secret("webhook_token")}
            )

    # FCM HTTP v1 and its OAuth2 token endpoint -------------------------------------------------
    @staticmethod
    def _google_error(status: int, state: str, message: str, fcm_code: str = "") -> web.Response:
        error: dict[str, Any] = {"code": status, "message": message, "status": state}
        if fcm_code:
            error["details"] = [
                {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcm_code}
            ]
        return web.json_response({"error": error}, status=status)

    async def oauth_token(self, request: web.Request) -> web.Response:
        """Google's token endpoint for a service account's JWT grant (RFC 7523): checks the grant's
        form and claims (issuer, audience = this URL, the FCM scope, a live expiry); a UDN that set
        a service account of its own also gets its signature checked."""
        schema = request.match_info["schema"]
        form = parse_qs((await request.read()).decode("utf-8", "replace"))
        bad = web.json_response({"error": "invalid_grant", "error_description": "Invalid JWT"}, status=400)
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"] or not form.get(
            "assertion"
        ):
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        if not await self.db(store.udn_exists, schema):
            return bad
        access = await self.db(store.access_for, schema, "push")
        assertion = form["assertion"][0]
        try:
            account = json.loads(access.secret("service_account_json") or "{}")
            if access.is_sandbox:
                claims = google_jwt.decode(assertion, verify=False)
            else:
                private = serialization.load_pem_private_key(account["private_key"].encode(), password=None)
                public = private.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
                claims = google_jwt.decode(assertion, certs=public, verify=True)
        except (ValueError, KeyError, TypeError) as error:
            log.info("sandbox token: refused grant (%s)", error)
            return bad
        # google-auth names Google's token endpoint as the audience whatever the token_uri.
        audience = str(claims.get("aud", ""))
        audience_ok = audience == GOOGLE_TOKEN_URI or urlsplit(audience).path == request.path
        if (
            not audience_ok
            or FCM_SCOPE not in str(claims.get("scope", "")).split()
            or int(claims.get("exp", 0)) < time.time()
            or (account.get("client_email") and claims.get("iss") != account["client_email"])
        ):
            return bad
        token = "ya29.sandbox-" + secrets.token_urlsafe(32)
        self._fcm_tokens[token] = schema
        return web.json_response({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    async def fcm_send(self, request: web.Request) -> web.Response:
        schema = request.match_info["schema"]
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self._fcm_tokens.get(token) != schema:
            return self._google_error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
                "THIRD_PARTY_AUTH_ERROR",
            )
        access = await self.db(store.access_for, schema, "push")
        project = request.match_info["project"]
        if project != access.setting("project_id"):
            return self._google_error(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH")
        body = await self._json(request)
        message = body.get("message") if body else None
        if not isinstance(message, dict) or not any(message.get(t) for t in ("token", "topic", "condition")):
            return self._google_error(
                400, "INVALID_ARGUMENT", "Request contains an invalid argument.", "INVALID_ARGUMENT"
            )
        magic = MAGIC_TOKENS.get(str(message.get("token", "")), "")
        if magic == "0400":
            return self._google_error(
                400,
                "INVALID_ARGUMENT",
                "The registration token is not a valid FCM registration token",
                "INVALID_ARGUMENT",
            )
        if magic == "0404":
            return self._google_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
        if magic == "0500":
            return self._google_error(
                503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE"
            )
        reference = str((message.get("fcm_options") or {}).get("analytics_label", ""))
        key = (schema, "push", reference)
        if reference and key in self._seen:
            return web.json_response(self._seen[key])
        name = f"projects/{project}/messages/0:{int(time.time() * 1_000_000)}%{secrets.token_hex(8)}"
        notification = message.get("notification") or {}
        await self.db(
            store.sandbox_message_record,
            schema,
            channel="push",
            to=str(message.get("token") or message.get("topic") or message.get("condition")),
            provider_message_id=name,
            payload=body or {},
            subject=str(notification.get("title", "")),
            body_text=str(notification.get("body", "")),
        )
        answer = {"name": name}
        if reference:
            self._remember(key, answer)
        return web.json_response(answer)

    # Telegram Bot API --------------------------------------------------------------------------
    @staticmethod
    def _telegram_error(status: int, description: str, retry_after: int = 0) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after:
            body["parameters"] = {"retry_after": retry_after}
        return web.json_response(body, status=status)

    async def _telegram_auth(self, request: web.Request) -> tuple[str, ChannelAccess] | web.Response:
        found = await self._access(request, "telegram")
        if found is None:
            return self._telegram_error(404, "Not Found")
        if not hmac.compare_digest(
            request.match_info["token"], self._issued(found[0], "telegram", "bot_token")
        ):
            return self._telegram_error(401, "Unauthorized")
        return found

    @staticmethod
    def _bot(access: ChannelAccess) -> dict[str, Any]:
        bot_id = int(access.secret("bot_token").partition(":")[0] or 0)
        return {"id": bot_id, "is_bot": True, "first_name": "UDN Sandbox", "username": "udn_sandbox_bot"}

    async def telegram_get_me(self, request: web.Request) -> web.Response:
        found = await self._telegram_auth(request)
        if isinstance(found, web.Response):
            return found
        return web.json_response({"ok": True, "result": self._bot(found[1])})

    async def telegram_send(self, request: web.Request) -> web.Response:
        found = await self._telegram_auth(request)
        if isinstance(found, web.Response):
            return found
        schema, access = found
        if request.content_type == "application/json":
            body = await self._json(request) or {}
        else:
            body = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
            if isinstance(body.get("reply_markup"), str):
                try:
                    body["reply_markup"] = json.loads(body["reply_markup"])
                except ValueError:
                    return self._telegram_error(
                        400, "Bad Request: can't parse reply keyboard markup JSON object"
                    )
        chat_id = str(body.get("chat_id", ""))
        text = str(body.get("text", ""))
        if not chat_id:
            return self._telegram_error(400, "Bad Request: chat_id is empty")
        if not text:
            return self._telegram_error(400, "Bad Request: message text is empty")
        magic = MAGIC_CHATS.get(chat_id, "")
        if magic == "0400":
            return self._telegram_error(400, "Bad Request: chat not found")
        if magic == "0403":
            return self._telegram_error(403, "Forbidden: bot was blocked by the user")
        if magic == "0429":
            return self._telegram_error(429, "Too Many Requests: retry after 5", retry_after=5)
        if magic == "0500":
            return self._telegram_error(500, "Internal Server Error")
        message_id = next(self._telegram_ids)
        chat = int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id
        result: dict[str, Any] = {
            "message_id": message_id,
            "from": self._bot(access),
            "chat": {"id": chat, "type": "private"},
            "date": int(time.time()),
            "text": text,
        }
        if body.get("reply_markup"):
            result["reply_markup"] = body["reply_markup"]
        await self.db(
            store.sandbox_message_record,
            schema,
            channel="telegram",
            to=chat_id,
            provider_message_id=f"{chat}:{message_id}",
            payload=body,
            body_text=text,
        )
        return web.json_response({"ok": True, "result": result})

    async def telegram_receive(self, request: web.Request) -> web.Response:
        """Not a Bot API method: a person writes `text` to the bot from chat `chat_id` (e.g. "/start
        <code>" from the app's link, or "SAIR"). The sandbox delivers the update as Telegram does to
        a bot's webhook: POSTed to the UDN's /hooks/telegram/ (or its registered `webhook_url`) with
        the webhook's secret token in X-Telegram-Bot-Api-Secret-Token."""
        found = await self._telegram_auth(request)
        if isinstance(found, web.Response):
            return found
        schema, access = found
        body = await self._json(request) or {}
        chat_id, text = str(body.get("chat_id", "")), str(body.get("text", ""))
        if not chat_id.lstrip("-").isdigit() or not text:
            return self._telegram_error(400, "Bad Request: chat_id (a number) and text are required")
        update_id = next(self._telegram_updates)
        update = {
            "update_id": update_id,
            "message": {
                "message_id": next(self._telegram_ids),
                "from": {"id": int(chat_id), "is_bot": False, "first_name": "Sandbox"},
                "chat": {"id": int(chat_id), "type": "private"},
                "date": int(time.time()),
                "text": text,
            },
        }
        raw = json.dumps(update, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"X-Telegram-Bot-Api-Secret-Token": access.secret("webhook_secret_token")}
        self._later(self._callback(schema, access, "telegram", raw, headers))
        return web.json_response({"ok": True, "result": {"update_id": update_id}})

    # Callbacks ---------------------------------------------------------------------------------
    async def _callback(
        self, schema: str, access: ChannelAccess, channel: str, body: bytes, headers: dict[str, str]
    ) -> None:
        """POST a status to the URL the UDN registered (`webhook_url`), else to its own host's
        /hooks/<channel>/ on the web server; retried a few times, as providers do."""
        assert self._session is not None
        headers = {"Content-Type": "application/json", "User-Agent": "UDN-Sandbox/1", **headers}
        url = access.settings.get("webhook_url", "")
        if not url:
            url = f"{self.callback_url}/hooks/{channel}/"
            port = urlsplit(self.callback_url).port
            host = await self.db(store.udn_host, schema)
            headers["Host"] = f"{host}:{port}" if port else host
        for attempt in range(1, CALLBACK_ATTEMPTS + 1):
            try:
                async with self._session.post(url, data=body, headers=headers) as response:
                    if response.status < 500:
                        log.info("callback %s %s -> %s", channel, url, response.status)
                        return
                    log.warning("callback %s %s -> %s (attempt %s)", channel, url, response.status, attempt)
            except (aiohttp.ClientError, TimeoutError) as error:
                log.warning("callback %s %s failed: %s (attempt %s)", channel, url, error, attempt)
            await asyncio.sleep(self.delay * attempt)


class _SmtpHandler:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:  # noqa: N802 - aiosmtpd's hook
        local = address.partition("@")[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 Mailbox unavailable (sandbox)"
        if local.startswith("tempfail"):
            return "451 4.3.0 Mailbox busy, try again later (sandbox)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook
        schema = (
            (session.login_data or b"").decode("utf-8", "replace")
            if isinstance(session.login_data, bytes)
            else str(session.login_data or "")
        )
        raw = envelope.original_content or envelope.content or b""
        assert isinstance(raw, bytes)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        message_id = str(parsed.get("Message-ID", "")).strip() or f"<{uuid.uuid4()}@sandbox.localhost>"
        text_part = parsed.get_body(("plain",))  # type: ignore[attr-defined]
        html_part = parsed.get_body(("html",))  # type: ignore[attr-defined]
        payload = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "headers": [[name, str(value)] for name, value in parsed.items()],
        }
        if not await self.sandbox.db(store.udn_exists, schema):
            return "550 5.7.1 No such UDN (sandbox)"
        for rcpt in envelope.rcpt_tos:
            await self.sandbox.db(
                store.sandbox_message_record,
                schema,
                channel="email",
                to=rcpt,
                provider_message_id=message_id if len(envelope.rcpt_tos) == 1 else f"{message_id}:{rcpt}",
                payload=payload,
                subject=str(parsed.get("Subject", "")),
                body_text=text_part.get_content() if text_part is not None else "",
                body_html=html_part.get_content() if html_part is not None else "",
            )
        return "250 Message accepted for delivery"


async def serve(stop: asyncio.Event) -> None:
    sandbox = Sandbox(
        host=settings.SANDBOX_HOST,
        smtp_port=settings.SANDBOX_SMTP_PORT,
        http_port=settings.SANDBOX_HTTP_PORT,
        callback_url=settings.SANDBOX_CALLBACK_URL,
        delay=settings.SANDBOX_STATUS_DELAY_SECONDS,
    )
    await sandbox.start()
    await stop.wait()
    await sandbox.stop()
