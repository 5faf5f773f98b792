"""Message templates: the variables they may use, the check when one is saved, and the payload of
each channel as its provider takes it.

A template is written in Django's template syntax, restricted to `{{ variable }}` with a few
filters (`default`, `upper`, `lower`, `title`, `capfirst`, `reais`, `data`): a `{% tag %}`, an
unknown filter or an unknown variable is refused when the template is saved
(`template_validate`), so that `message_render` of a saved template never fails at send time — a
value the affiliate lacks renders empty (or as the `default` the template gives).

Variables: the catalogue `VARIABLES` (the affiliate's data), `evento.<name>` (a property of the
event that triggered the message: `variables["evento"]`) and `dados.<name>` (any other variable
the caller passed, e.g. the partner API's `variables`). Money reads R$ 1.234,56, dates dd/mm/aaaa.

Runs inside a UDN's schema (the last cash-in is read from its events, links point to its host).
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django import template as django_template
from django.conf import settings
from django.core import signing
from django.db import connection
from django.template import defaultfilters
from django.template.base import VariableNode
from django.utils import timezone, translation
from django.utils.html import linebreaks, strip_tags
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.services.guards import affiliate_address
from crm.lifecycle import CASH_IN_TYPE
from crm.models import Affiliate, Event
from crm.templatetags.crm_format import brl, phone_br

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from campaigns.models import Message, MessageTemplate


@dataclass(frozen=True, slots=True)
class Variable:
    """One variable of the catalogue: what people read about it and an example value (the
    preview's, when no affiliate is chosen)."""

    description: StrOrPromise
    example: str


VARIABLES: dict[str, Variable] = {
    "primeiro_nome": Variable(gettext_lazy("First name"), "Joana"),
    "nome": Variable(gettext_lazy("Full name"), "Joana Conceição da Silva"),
    "email": Variable(gettext_lazy("E-mail"), "joana@exemplo.com.br"),
    "telefone": Variable(gettext_lazy("Mobile phone"), "(11) 98765-4321"),
    "cidade": Variable(gettext_lazy("City"), "São Paulo"),
    "estado": Variable(gettext_lazy("State (UF)"), "SP"),
    "plano": Variable(gettext_lazy("Plan"), "Plano Ouro"),
    "nivel": Variable(gettext_lazy("Deposit tier"), "Prata"),
    "total_depositado": Variable(gettext_lazy("Total deposited (R$)"), "R$ 1.234,56"),
    "ultimo_cash_in": Variable(gettext_lazy("Last cash-in amount (R$)"), "R$ 250,00"),
    "link_app": Variable(gettext_lazy("Link into the app"), "udnapp://"),
    "link_descadastro": Variable(gettext_lazy("Unsubscribe link (e-mail)"), "https://udn.exemplo/u/…/"),
}
# Namespaces whose names are not known when the template is saved: `evento.<property>` (the
# triggering event's properties) and `dados.<name>` (the caller's variables). Both render empty
# when the message has no such value.
EVENT_NAMESPACE = "evento"
DATA_NAMESPACE = "dados"
NAMESPACES = (EVENT_NAMESPACE, DATA_NAMESPACE)

# The fields each channel's template uses (the editor shows only these), in the editor's order.
CHANNEL_FIELDS: dict[str, tuple[str, ...]] = {
    "email": ("subject", "body_html", "body_text"),
    "whatsapp": ("wa_template_name", "wa_language", "wa_parameters", "body_text"),
    "sms": ("body_text",),
    "push": ("title", "body_text", "link_url"),
    "telegram": ("body_text", "button_text", "link_url"),
}
# Fields that are names or codes, not text with variables.
_LITERAL_FIELDS = frozenset({"wa_template_name", "wa_language"})


class RenderError(Exception):
    """A template that cannot be filled in (only one saved before the rules it breaks existed)."""


# --- Formatting ---------------------------------------------------------------------------------


def money_brl(value: object) -> str:
    """1234.5 → "R$ 1.234,56" with a plain space: a non-breaking one (the pages' brl) is not in
    the SMS alphabet and would make every message with an amount cost UCS-2 segments."""
    return brl(value).replace("\u00a0", " ")


def date_br(value: object) -> str:
    """A date, a datetime (in the current time zone) or an ISO text → "dd/mm/aaaa"; anything else
    as it is."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return f"{value:%d/%m/%Y}"
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    return "" if value is None else str(value)


def _first_name(name: str) -> str:
    first = name.strip().split(" ")[0] if name.strip() else ""
    # Imports often carry names in capitals ("JOANA"): a greeting reads "Joana".
    return first.capitalize() if first.isupper() or first.islower() else first


# --- The restricted template language ------------------------------------------------------------

_FILTERS = django_template.Library()


@_FILTERS.filter(name="default")
def _default(value: Any, arg: Any) -> Any:
    return value or arg


@_FILTERS.filter(name="upper")
def _upper(value: Any) -> str:
    return str(value).upper()


@_FILTERS.filter(name="lower")
def _lower(value: Any) -> str:
    return str(value).lower()


@_FILTERS.filter(name="title")
def _title(value: Any) -> str:
    return defaultfilters.title(str(value))


@_FILTERS.filter(name="capfirst")
def _capfirst(value: Any) -> str:
    return defaultfilters.capfirst(str(value))


@_FILTERS.filter(name="reais")
def _reais(value: Any) -> str:
    """An amount (a number or a numeric text such as an event's "1234.5") as R$ 1.234,50."""
    if isinstance(value, str):
        text = value.strip()
        if "," in text and "." not in text:  # "250,00" as Brazilians write it
            text = text.replace(",", ".")
        try:
            value = Decimal(text)
        except InvalidOperation:
            return value
    return money_brl(value)


@_FILTERS.filter(name="data")
def _data(value: Any) -> str:
    return date_br(value)


FILTER_NAMES: tuple[str, ...] = tuple(_FILTERS.filters)


class _RestrictedEngine(django_template.Engine):
    """Django's template engine with no tags and only our filters: `{% ... %}` is an unknown tag
    and any other filter an unknown filter, both refused when the template is compiled."""

    def __init__(self) -> None:
        super().__init__(debug=False, string_if_invalid="", autoescape=True)
        self.template_builtins = [_FILTERS]
        self.template_libraries = {}


_ENGINE = _RestrictedEngine()


@lru_cache(maxsize=512)
def _compile(source: str) -> django_template.Template:
    """The compiled template of `source` (a TemplateSyntaxError for what the rules refuse)."""
    return django_template.Template(source, engine=_ENGINE)


class _Namespace:
    """`evento.x` / `dados.x` read keys only: a plain dict would also answer `evento.items`
    with its method."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values

    def __getitem__(self, key: str) -> Any:
        return self._values[key]


def _variable_name(lookups: tuple[str, ...]) -> str:
    return ".".join(lookups)


def _names_in(compiled: django_template.Template) -> list[tuple[str, ...]]:
    """The variable lookups a compiled template reads (its text and its filters' arguments)."""
    found: list[tuple[str, ...]] = []
    for node in compiled.nodelist.get_nodes_by_type(VariableNode):
        expression = node.filter_expression  # type: ignore[attr-defined]
        variables = [expression.var, *(arg for _filter, args in expression.filters for _lookup, arg in args)]
        for variable in variables:
            lookups = getattr(variable, "lookups", None)
            if lookups:
                found.append(tuple(lookups))
    return found


def _known(lookups: tuple[str, ...]) -> bool:
    if len(lookups) == 1:
        return lookups[0] in VARIABLES
    return len(lookups) == 2 and lookups[0] in NAMESPACES


def _sources(template: MessageTemplate) -> list[tuple[str, str]]:
    """(field, source) of each piece of the channel's template that may hold variables."""
    pieces: list[tuple[str, str]] = []
    for field in CHANNEL_FIELDS.get(template.channel, ()):
        if field in _LITERAL_FIELDS:
            continue
        if field == "wa_parameters":
            pieces.extend((field, str(parameter)) for parameter in template.wa_parameters or [])
        else:
            pieces.append((field, str(getattr(template, field) or "")))
    return pieces


def _field_label(field: str) -> str:
    from campaigns.models import MessageTemplate

    return str(getattr(MessageTemplate._meta.get_field(field), "verbose_name", field))


def _syntax_error(field: str, source: str, error: django_template.TemplateSyntaxError) -> str:
    label = _field_label(field)
    if "{%" in source:
        return _(
            "The field “%(field)s” uses a {%% tag %%}: only {{ variables }} are allowed in templates."
        ) % {"field": label}
    text = str(error)
    match = re.search(r"Invalid filter: '([^']*)'", text)
    if match:
        return _(
            "The field “%(field)s” uses the filter “%(filter)s”, which does not exist. Filters: %(filters)s."
        ) % {
            "field": label,
            "filter": match.group(1),
            "filters": ", ".join(FILTER_NAMES),
        }
    if "underscore" in text:
        return _("The field “%(field)s” has a variable beginning with “_”, which is not allowed.") % {
            "field": label
        }
    return _("The field “%(field)s” has a malformed {{ variable }}: %(error)s") % {
        "field": label,
        "error": text,
    }


def template_field_errors(template: MessageTemplate) -> list[tuple[str, str]]:
    """(field, message) for each problem of the template, in the editor's field order: tags,
    unknown filters and variables, a required field left blank."""
    errors: list[tuple[str, str]] = []
    for field, source in _sources(template):
        if not source:
            continue
        try:
            compiled = _compile(source)
        except django_template.TemplateSyntaxError as error:
            errors.append((field, _syntax_error(field, source, error)))
            continue
        for lookups in _names_in(compiled):
            if not _known(lookups):
                errors.append(
                    (
                        field,
                        _("Unknown variable “%(variable)s” in the field “%(field)s”.")
                        % {"variable": _variable_name(lookups), "field": _field_label(field)},
                    )
                )
    for field in _required(template):
        if not str(getattr(template, field) or "").strip():
            errors.append((field, _("Fill in the field “%(field)s”.") % {"field": _field_label(field)}))
    if template.channel == "telegram" and bool(template.button_text.strip()) != bool(
        template.link_url.strip()
    ):
        missing = "link_url" if template.button_text.strip() else "button_text"
        errors.append(
            (missing, _("A Telegram button needs both its text and its link.")),
        )
    return errors


def _required(template: MessageTemplate) -> tuple[str, ...]:
    if template.channel == "email":
        return (
            ("subject",) if (template.body_html or template.body_text).strip() else ("subject", "body_text")
        )
    if template.channel == "whatsapp":
        return ("wa_template_name", "wa_language") if template.wa_template_name.strip() else ("body_text",)
    if template.channel == "push":
        return ("title", "body_text")
    return ("body_text",)


def template_validate(template: MessageTemplate) -> list[str]:
    """The template's problems as people read them (empty: it may be saved)."""
    return [message for _field, message in template_field_errors(template)]


def template_variables(template: MessageTemplate) -> list[str]:
    """The variables the template uses ("primeiro_nome", "evento.valor"...), sorted, once each;
    pieces that do not compile are skipped (template_validate reports them)."""
    names: set[str] = set()
    for _field, source in _sources(template):
        try:
            compiled = _compile(source)
        except django_template.TemplateSyntaxError:
            continue
        names.update(_variable_name(lookups) for lookups in _names_in(compiled))
    return sorted(names)


# --- Values -------------------------------------------------------------------------------------


def app_link_base() -> str:
    return str(getattr(settings, "APP_DEEP_LINK_BASE", "udnapp://"))


_BASES: dict[str, tuple[float, str]] = {}
_BASE_SECONDS = 60.0  # a renamed host reaches new messages within a minute


def udn_url(path: str) -> str:
    """An absolute URL of `path` on the current UDN's host, for links in messages (built by
    workers, with no request to take a host from): campaigns.services.links.link_base_url,
    remembered a minute per UDN, since a batch renders thousands of messages."""
    from campaigns.services.links import link_base_url

    schema: str = connection.schema_name  # type: ignore[attr-defined]
    cached = _BASES.get(schema)
    if cached is None or cached[0] < time.monotonic():
        _BASES[schema] = cached = (time.monotonic() + _BASE_SECONDS, link_base_url().rstrip("/"))
    return f"{cached[1]}{path}"


UNSUBSCRIBE_SALT = "campaigns.unsubscribe"


def unsubscribe_token(*, affiliate: Affiliate, message: Message | None = None) -> str:
    """A signed token naming the UDN, the affiliate and the message (when there is one): valid on
    that UDN's host only, never expiring (an old e-mail's link must still work)."""
    tenant: Any = connection.tenant  # type: ignore[attr-defined]
    payload = {"s": tenant.schema_name, "a": affiliate.pk, "m": message.pk if message is not None else None}
    return signing.dumps(payload, salt=UNSUBSCRIBE_SALT)


@dataclass(frozen=True, slots=True)
class UnsubscribeTarget:
    schema: str
    affiliate_id: int
    message_id: int | None


def unsubscribe_token_read(token: str) -> UnsubscribeTarget:
    """What a token names; signing.BadSignature for a forged or damaged one."""
    payload = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    try:
        return UnsubscribeTarget(str(payload["s"]), int(payload["a"]), payload.get("m"))
    except (KeyError, TypeError, ValueError):
        raise signing.BadSignature("malformed unsubscribe token") from None


def unsubscribe_url(*, affiliate: Affiliate, message: Message | None = None) -> str:
    return udn_url(f"/u/{unsubscribe_token(affiliate=affiliate, message=message)}/")


def _last_cash_in(affiliate: Affiliate) -> Decimal | None:
    amount = (
        Event.objects.filter(affiliate=affiliate, type=CASH_IN_TYPE, amount__isnull=False)
        .order_by("-occurred_at", "-id")
        .values_list("amount", flat=True)
        .first()
    )
    return amount


# Each catalogue variable from an affiliate; computed only when the template uses it (the last
# cash-in costs a query).
_AFFILIATE_VALUES: dict[str, Callable[[Affiliate], str]] = {
    "primeiro_nome": lambda a: _first_name(a.name),
    "nome": lambda a: a.name,
    "email": lambda a: a.email,
    "telefone": lambda a: phone_br(a.phone),
    "cidade": lambda a: a.city,
    "estado": lambda a: a.state,
    "plano": lambda a: a.plan,
    "nivel": lambda a: a.tier,
    "total_depositado": lambda a: money_brl(a.total_cash_in),
    "ultimo_cash_in": lambda a: money_brl(_last_cash_in(a)),
    "link_app": lambda a: app_link_base(),
}


def _context_values(
    *,
    names: Iterable[str],
    affiliate: Affiliate | None,
    variables: Mapping[str, Any],
    unsubscribe: str,
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in names:
        root = name.split(".")[0]
        if root in values:
            continue
        if root == EVENT_NAMESPACE:
            event = variables.get(EVENT_NAMESPACE)
            values[root] = _Namespace(event if isinstance(event, Mapping) else {})
        elif root == DATA_NAMESPACE:
            values[root] = _Namespace({k: v for k, v in variables.items() if k != EVENT_NAMESPACE})
        elif root == "link_descadastro":
            values[root] = unsubscribe
        elif root in _AFFILIATE_VALUES:
            values[root] = (
                _AFFILIATE_VALUES[root](affiliate) if affiliate is not None else VARIABLES[root].example
            )
    return values


class _Filler:
    """Renders the pieces of one template for one affiliate."""

    def __init__(
        self,
        *,
        template: MessageTemplate,
        affiliate: Affiliate | None,
        variables: Mapping[str, Any],
        unsubscribe: str = "",
        track: int | None = None,
    ) -> None:
        self.track = track
        # From the template itself, not its saved `variables`: a preview renders unsaved edits.
        self.names = template_variables(template)
        self.values = _context_values(
            names=self.names, affiliate=affiliate, variables=variables, unsubscribe=unsubscribe
        )

    def text(self, source: str) -> str:
        return self._render(source, autoescape=False)

    def html(self, source: str) -> str:
        return self._render(source, autoescape=True)

    def tracked(self, text: str, *, is_html: bool = False) -> str:
        """`text` with its http(s) links wrapped for click tracking (campaigns.services.links),
        once the message exists; the UDN's own links (unsubscribe) stay as they are."""
        if self.track is None or not text:
            return text
        from campaigns.services.links import links_wrap

        return links_wrap(text=text, message_id=self.track, base_url=udn_url(""), is_html=is_html)

    def _render(self, source: str, *, autoescape: bool) -> str:
        if not source:
            return ""
        try:
            compiled = _compile(source)
            return compiled.render(django_template.Context(self.values, autoescape=autoescape))
        except django_template.TemplateSyntaxError as error:
            raise RenderError(str(error)) from error


# --- Payloads per channel -------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _whatsapp_parameter(text: str) -> str:
    # The Cloud API refuses parameters with new lines, tabs or more than four spaces in a row, and
    # empty ones: the person would get nothing at all.
    return _one_line(text) or "-"


def _email(*, template: MessageTemplate, fill: _Filler, unsubscribe: str, to: str) -> dict[str, Any]:
    html_body = fill.html(template.body_html)
    text_body = fill.text(template.body_text)
    if not html_body and text_body:
        html_body = linebreaks(text_body, autoescape=True)
    if not text_body and html_body:
        text_body = html.unescape(strip_tags(html_body)).strip()
    if "link_descadastro" not in fill.names:
        with translation.override(settings.LANGUAGE_CODE):
            text_footer = _("To stop receiving these e-mails: %(url)s") % {"url": unsubscribe}
            html_footer = _('Don\'t want these e-mails? <a href="%(url)s">Unsubscribe</a>.') % {
                "url": html.escape(unsubscribe)
            }
        text_body = f"{text_body}\n\n--\n{text_footer}"
        footer = f'<p style="font-size:12px;color:#6b7280">{html_footer}</p>'
        if "</body>" in html_body:
            html_body = html_body.replace("</body>", f"{footer}</body>", 1)
        else:
            html_body = f"{html_body}\n{footer}"
    return {
        "to": to,
        "subject": _one_line(fill.text(template.subject)),
        "html": fill.tracked(html_body, is_html=True),
        "text": fill.tracked(text_body),
        # RFC 8058: one-click unsubscribe by a POST to the https URL, no confirmation needed.
        "headers": {
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    }


def _whatsapp(*, template: MessageTemplate, fill: _Filler, to: str) -> dict[str, Any]:
    # The Cloud API takes the number as digits, country code first.
    recipient = re.sub(r"\D", "", to)
    if template.wa_template_name:
        body: dict[str, Any] = {
            "name": template.wa_template_name,
            "language": {"code": template.wa_language or "pt_BR"},
        }
        if template.wa_parameters:
            body["components"] = [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": fill.tracked(_whatsapp_parameter(fill.text(parameter)))}
                        for parameter in template.wa_parameters
                    ],
                }
            ]
        return {"messaging_product": "whatsapp", "to": recipient, "type": "template", "template": body}
    text = fill.tracked(fill.text(template.body_text))
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": recipient,
        "type": "text",
        "text": {"preview_url": "http" in text, "body": text},
    }


def _push(*, template: MessageTemplate, fill: _Filler, to: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "token": to,
        "notification": {
            "title": _one_line(fill.text(template.title)),
            "body": fill.text(template.body_text),
        },
    }
    link = fill.tracked(fill.text(template.link_url).strip())
    if link:
        message["data"] = {"link": link}  # FCM data values are strings
    return {"message": message}


def _telegram(*, template: MessageTemplate, fill: _Filler, to: str) -> dict[str, Any]:
    payload: dict[str, Any] = {"chat_id": to, "text": fill.tracked(fill.text(template.body_text))}
    link = fill.tracked(fill.text(template.link_url).strip())
    button = _one_line(fill.text(template.button_text))
    if link and button:
        payload["reply_markup"] = {"inline_keyboard": [[{"text": button, "url": link}]]}
    return payload


def message_render(
    *,
    template: MessageTemplate,
    affiliate: Affiliate | None,
    variables: Mapping[str, Any] | None = None,
    message: Message | None = None,
    address: str | None = None,
) -> dict[str, Any]:
    """The payload of `template` filled in for `affiliate` (None: the catalogue's examples, for
    the preview), as the channel's provider takes it:

    - email: {"to", "subject", "html", "text", "headers"} (List-Unsubscribe, one-click)
    - whatsapp: the Cloud API message (an approved template with body parameters, or free text)
    - sms: {"to", "text"}
    - push: the FCM HTTP v1 request body {"message": {"token", "notification", "data"}}
    - telegram: the Bot API sendMessage body {"chat_id", "text", "reply_markup"}

    `address` replaces the affiliate's address for the channel (a test send to oneself).
    RenderError only for a template that was never validated."""
    variables = variables or {}
    channel = template.channel
    if address is None:
        address = affiliate_address(affiliate=affiliate, channel=channel) if affiliate is not None else ""
    track = message.pk if message is not None and message.pk else None
    unsubscribe = ""
    if channel == "email":
        unsubscribe = (
            unsubscribe_url(affiliate=affiliate, message=message)
            if affiliate is not None
            else udn_url("/u/…/")
        )
    fill = _Filler(
        template=template, affiliate=affiliate, variables=variables, unsubscribe=unsubscribe, track=track
    )
    if channel == "email":
        return _email(template=template, fill=fill, unsubscribe=unsubscribe, to=address)
    if channel == "whatsapp":
        return _whatsapp(template=template, fill=fill, to=address)
    if channel == "sms":
        return {"to": address, "text": fill.tracked(fill.text(template.body_text))}
    if channel == "push":
        return _push(template=template, fill=fill, to=address)
    if channel == "telegram":
        return _telegram(template=template, fill=fill, to=address)
    raise RenderError(f"unknown channel {channel!r}")


def whatsapp_is_free_text(template: MessageTemplate) -> bool:
    """Free text (no approved template): only inside the 24-hour customer-service window."""
    return template.channel == "whatsapp" and not template.wa_template_name


def event_variables(event: Event) -> dict[str, Any]:
    """The `variables` of a message an event triggered: its properties under `evento`, with its
    type, amount (R$) and date (dd/mm/aaaa) as `evento.tipo`, `evento.valor`, `evento.data` unless
    the properties already name them."""
    values: dict[str, Any] = {
        "tipo": event.type,
        "valor": money_brl(event.amount) if event.amount is not None else "",
        "data": date_br(event.occurred_at),
    }
    values.update(event.properties or {})
    return {EVENT_NAMESPACE: values}


# --- SMS segments -------------------------------------------------------------------------------

# 3GPP TS 23.038 default alphabet (GSM 03.38): the basic table and the extension table reached
# through ESC (each extension character costs two septets). 0x09 is the capital "Ç": the small
# "ç" (and "ã", "õ", "á", "ê"...) is not in the alphabet, so a text with one goes as UCS-2.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "\x0c^{}\\[~]|€"
_GSM7_BASIC_SET = frozenset(GSM7_BASIC) - {"\x1b"}
_GSM7_EXTENSION_SET = frozenset(GSM7_EXTENSION)

GSM7 = "GSM-7"
UCS2 = "UCS-2"
# Units per message: one alone, or fewer per part of a long message (the rest of the 140 bytes
# carry the header that joins the parts).
SEGMENT_UNITS = {GSM7: (160, 153), UCS2: (70, 67)}


def _pack(sizes: list[int], *, single: int, part: int) -> int:
    """Segments needed for characters of `sizes` units, never splitting one across two parts."""
    total = sum(sizes)
    if total == 0:
        return 0
    if total <= single:
        return 1
    segments, used = 1, 0
    for size in sizes:
        if used + size > part:
            segments += 1
            used = 0
        used += size
    return segments


def sms_encoding(text: str) -> str:
    if all(char in _GSM7_BASIC_SET or char in _GSM7_EXTENSION_SET for char in text):
        return GSM7
    return UCS2


def sms_units(text: str) -> tuple[str, list[int]]:
    """The encoding and each character's size in its units (septets for GSM-7, UTF-16 code units
    for UCS-2: an emoji outside the BMP takes two)."""
    encoding = sms_encoding(text)
    if encoding == GSM7:
        return encoding, [2 if char in _GSM7_EXTENSION_SET else 1 for char in text]
    return encoding, [2 if ord(char) > 0xFFFF else 1 for char in text]


def sms_segments(text: str) -> tuple[str, int]:
    """("GSM-7" | "UCS-2", segments): 160 septets in one message or 153 a part; 70 UTF-16 units
    in one or 67 a part."""
    encoding, sizes = sms_units(text)
    single, part = SEGMENT_UNITS[encoding]
    return encoding, _pack(sizes, single=single, part=part)


@dataclass(frozen=True, slots=True)
class SmsCount:
    encoding: str
    segments: int
    units: int
    limit: int  # units that fit in the segments used (one message: 160/70)


def sms_count(text: str) -> SmsCount:
    """sms_segments with the length, for the editor: "GSM-7 · 1 segment · 45/160"."""
    encoding, sizes = sms_units(text)
    single, part = SEGMENT_UNITS[encoding]
    segments = _pack(sizes, single=single, part=part)
    limit = single if segments <= 1 else part * segments
    return SmsCount(encoding, segments, sum(sizes), limit)
