"""What providers call on a UDN's host: `/hooks/<channel>/` (statuses of our messages and messages
to us) and `/r/<token>/` (a tracked link). No session, no CSRF token: a provider call proves
itself with the channel's secret (campaigns.services.hook_secrets), checked before the body is
read as JSON; a call that fails the check changes nothing (401 without the proof, 403 with a
wrong one). A body that is not the provider's format is a 400 with a JSON error, never a 500.
A repeated call (the provider retries, or someone replays a captured one) is harmless: statuses
and inbound messages are stored once.

Formats:
- WhatsApp Cloud API: GET handshake (hub.mode=subscribe, hub.verify_token, hub.challenge echoed);
  POST `{"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {"statuses":
  [{"id", "status", "timestamp", "errors"}], "messages": [{"from", "id", "timestamp", "type",
  "text": {"body"}}]}}]}]}` signed with X-Hub-Signature-256.
- SMS, Zenvia API v2 callbacks: `{"type": "MESSAGE_STATUS", "messageId", "messageStatus":
  {"code": SENT|DELIVERED|NOT_DELIVERED|REJECTED|READ, "timestamp", "description", "causes"}}` and
  `{"type": "MESSAGE", "message": {"id", "from", "contents": [{"type": "text", "text"}],
  "timestamp"}}`, with the header X-Webhook-Token.
- Telegram Bot API updates (setWebhook with secret_token): `{"update_id", "message": {"message_id",
  "chat": {"id"}, "date", "text"}}` with X-Telegram-Bot-Api-Secret-Token; "/start <code>" links
  the chat to an affiliate.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from campaigns.models import MessageStatus
from campaigns.services.hook_secrets import (
    APP_SECRET,
    VERIFY_TOKEN,
    WEBHOOK_SECRET,
    WEBHOOK_TOKEN,
    hook_secret,
)
from campaigns.services.inbound import HookReport, InboundInput, TelegramStart, hook_report_apply
from campaigns.services.links import LinkInvalid, link_click
from campaigns.services.statuses import StatusUpdate
from crm.normalize import moment_in_range

WHATSAPP_STATUSES = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "failed": MessageStatus.FAILED,
}
ZENVIA_STATUSES = {
    "SENT": MessageStatus.SENT,
    "DELIVERED": MessageStatus.DELIVERED,
    "READ": MessageStatus.READ,
    "NOT_DELIVERED": MessageStatus.FAILED,
    "REJECTED": MessageStatus.FAILED,
}
TELEGRAM_START = "/start"
# A provider clock this far ahead of ours is not a clock (a little ahead is read as now).
FUTURE_LIMIT = timedelta(days=1)


class BadPayload(ValueError):
    """The body is not the provider's format."""


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def _in_range(moment: datetime) -> datetime:
    """A provider's time, if it can be one (from 1900 to a day ahead of our clock)."""
    if not moment_in_range(moment, latest=timezone.now() + FUTURE_LIMIT):
        raise BadPayload(f"time out of range: {moment.isoformat()}")
    return moment


def _unix(value: Any) -> datetime:
    try:
        moment = datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise BadPayload(f"not a unix time: {value!r}") from None
    return _in_range(moment)


def _iso(value: Any) -> datetime:
    """An ISO 8601 time (UTC when it names no offset); now when the provider gave none."""
    if value is None:
        return timezone.now()
    moment = parse_datetime(value) if isinstance(value, str) else None
    if moment is None:
        raise BadPayload(f"not an ISO 8601 time: {value!r}")
    return _in_range(moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC))


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadPayload(f"{what} must be an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadPayload(f"{what} must be a list")
    return value


ID_MAX = 200  # the provider ids and addresses we store


def _text(value: Any, what: str) -> str:
    """An id or an address: a non-empty text (or number) of at most ID_MAX characters."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise BadPayload(f"{what} must be a non-empty text")
    text = str(value)
    if not text or len(text) > ID_MAX or "\x00" in text:
        raise BadPayload(f"{what} must be a non-empty text of at most {ID_MAX} characters")
    return text


def _clean(value: Any) -> Any:
    """A provider's JSON fragment kept as detail, without NUL characters (jsonb refuses them)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, dict):
        return {_clean(str(key)): _clean(item) for key, item in value.items()}
    return value


def _words(value: Any) -> str:
    """What a person wrote (NUL characters, which the database refuses, removed)."""
    return str(value or "").replace("\x00", "")


# --- WhatsApp Cloud API -------------------------------------------------------------------------


def _whatsapp_report(body: Any) -> HookReport:
    statuses: list[StatusUpdate] = []
    inbound: list[InboundInput] = []
    for entry in _list(_object(body, "body").get("entry"), "entry"):
        for change in _list(_object(entry, "entry[]").get("changes"), "changes"):
            value = _object(_object(change, "changes[]").get("value"), "value")
            for item in _list(value.get("statuses"), "statuses"):
                item = _object(item, "statuses[]")
                status = WHATSAPP_STATUSES.get(item.get("status"))  # type: ignore[arg-type]
                if status is None:
                    continue  # "deleted", "warning"...: nothing a message becomes
                errors = _clean(_list(item.get("errors"), "errors"))
                first = errors[0] if errors and isinstance(errors[0], dict) else {}
                detail = (
                    {
                        "error": f"{first.get('code', '')} {first.get('title') or first.get('message') or ''}".strip(),
                        "errors": errors,
                    }
                    if errors
                    else {}
                )
                statuses.append(
                    StatusUpdate(
                        status=status,
                        at=_unix(item.get("timestamp")),
                        provider_message_id=_text(item.get("id"), "statuses[].id"),
                        channel="whatsapp",
                        detail=detail,
                    )
                )
            for item in _list(value.get("messages"), "messages"):
                item = _object(item, "messages[]")
                inbound.append(
                    InboundInput(
                        channel="whatsapp",
                        from_address=_text(item.get("from"), "messages[].from"),
                        text=_whatsapp_text(item),
                        provider_message_id=_text(item.get("id"), "messages[].id"),
                        received_at=_unix(item.get("timestamp")),
                    )
                )
    return HookReport(statuses=statuses, inbound=inbound)


def _whatsapp_text(item: dict[str, Any]) -> str:
    """The words of an inbound message: a text's body, a quick-reply button's or a list's title."""
    kind = item.get("type")
    if kind == "text":
        return _words(_object(item.get("text"), "text").get("body"))
    if kind == "button":
        return _words(_object(item.get("button"), "button").get("text"))
    if kind == "interactive":
        interactive = _object(item.get("interactive"), "interactive")
        reply = interactive.get("button_reply") or interactive.get("list_reply") or {}
        return _words(reply.get("title")) if isinstance(reply, dict) else ""
    return ""


def _whatsapp_signature_error(request: HttpRequest) -> JsonResponse | None:
    header = request.headers.get("X-Hub-Signature-256", "")
    if not header:
        return _error(401, "signature_missing", "X-Hub-Signature-256 is required.")
    secret = hook_secret(channel="whatsapp", name=APP_SECRET)
    expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    if not secret or not hmac.compare_digest(header.strip().lower(), expected):
        return _error(403, "signature_invalid", "The signature does not match the body.")
    return None


def _whatsapp_handshake(request: HttpRequest) -> HttpResponse:
    mode = request.GET.get("hub.mode", "")
    token = request.GET.get("hub.verify_token", "")
    challenge = request.GET.get("hub.challenge", "")
    expected = hook_secret(channel="whatsapp", name=VERIFY_TOKEN)
    if mode != "subscribe" or not challenge or not expected or not hmac.compare_digest(token, expected):
        return _error(403, "verification_failed", "Wrong hub.mode or hub.verify_token.")
    return HttpResponse(challenge, content_type="text/plain")


# --- SMS: Zenvia API v2 -------------------------------------------------------------------------


def _zenvia_report(body: Any) -> HookReport:
    # Zenvia posts one event a call; a list of them is taken too (the sandbox may batch).
    events = body if isinstance(body, list) else [body]
    statuses: list[StatusUpdate] = []
    inbound: list[InboundInput] = []
    for event in events:
        event = _object(event, "body")
        kind = event.get("type")
        if kind == "MESSAGE_STATUS":
            state = _object(event.get("messageStatus"), "messageStatus")
            status = ZENVIA_STATUSES.get(state.get("code"))  # type: ignore[arg-type]
            if status is None:
                continue
            causes = _clean(_list(state.get("causes"), "causes"))
            detail: dict[str, Any] = {"code": state.get("code")}
            if status == MessageStatus.FAILED:
                first = causes[0] if causes and isinstance(causes[0], dict) else {}
                detail["error"] = _clean(
                    str(first.get("reason") or state.get("description") or state.get("code"))
                )
                detail["causes"] = causes
            statuses.append(
                StatusUpdate(
                    status=status,
                    at=_iso(state.get("timestamp") or event.get("timestamp")),
                    provider_message_id=_text(event.get("messageId"), "messageId"),
                    channel="sms",
                    detail=detail,
                )
            )
        elif kind == "MESSAGE":
            message = _object(event.get("message"), "message")
            if message.get("direction", "IN") != "IN":
                continue
            contents = _list(message.get("contents"), "contents")
            text = " ".join(
                _words(part.get("text"))
                for part in contents
                if isinstance(part, dict) and part.get("type") == "text"
            )
            inbound.append(
                InboundInput(
                    channel="sms",
                    from_address=_text(message.get("from"), "message.from"),
                    text=text,
                    provider_message_id=_text(message.get("id"), "message.id"),
                    received_at=_iso(message.get("timestamp") or event.get("timestamp")),
                )
            )
        else:
            raise BadPayload("type must be MESSAGE_STATUS or MESSAGE")
    return HookReport(statuses=statuses, inbound=inbound)


# --- Telegram Bot API ---------------------------------------------------------------------------


def _telegram_report(body: Any) -> HookReport:
    update = _object(body, "body")
    _text(update.get("update_id"), "update_id")
    message = update.get("message") or update.get("edited_message")
    if message is None:
        return HookReport()  # callback queries, member updates...: nothing for us
    message = _object(message, "message")
    chat_id = _text(_object(message.get("chat"), "message.chat").get("id"), "message.chat.id")
    message_id = _text(message.get("message_id"), "message.message_id")
    received_at = _unix(message.get("date"))
    text = _words(message.get("text")) if isinstance(message.get("text"), str) else ""
    command, _space, argument = text.strip().partition(" ")
    if command.split("@")[0] == TELEGRAM_START and argument.strip():
        return HookReport(
            telegram_starts=[TelegramStart(code=argument.strip(), chat_id=chat_id, received_at=received_at)]
        )
    return HookReport(
        inbound=[
            InboundInput(
                channel="telegram",
                from_address=chat_id,
                text=text,
                # message_id is unique within its chat.
                provider_message_id=f"tg:{chat_id}:{message_id}",
                received_at=received_at,
            )
        ]
    )


def _token_error(request: HttpRequest, *, header: str, channel: str, name: str) -> JsonResponse | None:
    given = request.headers.get(header, "")
    if not given:
        return _error(401, "token_missing", f"{header} is required.")
    expected = hook_secret(channel=channel, name=name)
    if not expected or not hmac.compare_digest(given, expected):
        return _error(403, "token_invalid", f"Wrong {header}.")
    return None


# --- the views ----------------------------------------------------------------------------------

PARSERS = {"whatsapp": _whatsapp_report, "sms": _zenvia_report, "telegram": _telegram_report}


def _proof_error(request: HttpRequest, channel: str) -> JsonResponse | None:
    if channel == "whatsapp":
        return _whatsapp_signature_error(request)
    if channel == "sms":
        return _token_error(request, header="X-Webhook-Token", channel="sms", name=WEBHOOK_TOKEN)
    return _token_error(
        request, header="X-Telegram-Bot-Api-Secret-Token", channel="telegram", name=WEBHOOK_SECRET
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def provider_hook(request: HttpRequest, channel: str) -> HttpResponse:
    """/hooks/<channel>/: a provider's call (see the module doc)."""
    if channel not in PARSERS:
        return _error(404, "not_found", "No hook for this channel.")
    if request.method == "GET":
        if channel == "whatsapp":
            return _whatsapp_handshake(request)
        return _error(405, "method_not_allowed", "POST only.")
    refusal = _proof_error(request, channel)
    if refusal is not None:
        return refusal
    try:
        body = json.loads(request.body)
        report = PARSERS[channel](body)
    except (ValueError, RecursionError) as error:  # JSON errors and BadPayload are ValueErrors
        return _error(400, "bad_payload", str(error)[:300] or "Invalid body.")
    return JsonResponse({"ok": True, **hook_report_apply(report=report)})


@require_GET
def link_redirect(request: HttpRequest, token: str) -> HttpResponse:
    """/r/<token>/: record the click and go where the signed token says; 404 for any other token."""
    try:
        url = link_click(token=token)
    except LinkInvalid:
        raise Http404("unknown link") from None
    return HttpResponseRedirect(url)
