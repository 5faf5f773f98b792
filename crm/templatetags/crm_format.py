"""Brazilian formatting for templates: R$ amounts, counts, CPF and phone display, and the labels
people read for API scopes and webhook events."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template

from crm.models import API_SCOPE_LABELS, WEBHOOK_EVENT_LABELS

register = template.Library()


@register.filter
def brl(value: object) -> str:
    """1234.5 → "R$ 1.234,50" (always two places, Brazilian separators)."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return str(value)
    sign = "-" if amount < 0 else ""
    whole, cents = f"{abs(amount):.2f}".split(".")
    groups = f"{int(whole):,}".replace(",", ".")
    return f"{sign}R$\u00a0{groups},{cents}"


@register.filter
def cpf(value: str) -> str:
    """ "12345678909" → "123.456.789-09"."""
    if not value or len(value) != 11:
        return value or ""
    return f"{value[:3]}.{value[3:6]}.{value[6:9]}-{value[9:]}"


@register.filter
def phone_br(value: str) -> str:
    """ "+5511987654321" → "(11) 98765-4321"; other numbers stay in E.164."""
    if not value or not value.startswith("+55") or len(value) not in (13, 14):
        return value or ""
    digits = value[3:]
    return f"({digits[:2]}) {digits[2:-4]}-{digits[-4:]}"


@register.filter
def api_scope_label(value: str) -> str:
    """ "affiliates:read" → "Ler afiliados" (the identifier itself when unknown)."""
    return str(API_SCOPE_LABELS.get(value, value))


@register.filter
def webhook_event_label(value: str) -> str:
    """ "event.received" → "Evento recebido" (the identifier itself when unknown)."""
    return str(WEBHOOK_EVENT_LABELS.get(value, value))
