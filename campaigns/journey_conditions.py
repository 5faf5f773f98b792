"""A branch step's condition, evaluated for a whole batch of affiliates in one query: a small tree
compiled to a SQL predicate over `crm_affiliate a`.

    {"all": [c, ...]}, {"any": [c, ...]}, {"not": c}
    {"event": "cashout", "op": "=", "value": 0}                   never did cashout
    {"event": "cash_in", "op": ">=", "value": 2, "within_days": 30}
    {"field": "stage", "op": "eq", "value": "cash_in"}           stage, tier, state, city, plan, origin
    {"tag": "vip"}                                               has the tag
    {"attribute": "plan_kind", "op": "eq", "value": "anual"}     or "op": "exists"
    {"consent": "whatsapp"}                                      consented to the channel

Every value is a query parameter; column names come from the lists below, never from the graph.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from django.utils.translation import gettext as _

from crm.channels import CHANNEL_CODES, channel_get

FIELDS = ("stage", "tier", "state", "city", "plan", "origin")
COUNT_OPS = {"=": "=", ">=": ">=", "<=": "<=", ">": ">", "<": "<"}


def condition_errors(condition: Any) -> list[str]:
    """What is wrong with a condition tree (empty: it compiles)."""
    try:
        condition_sql(condition, now=datetime(2000, 1, 1))
    except (ValueError, TypeError, KeyError) as error:
        return [_("The branch's condition is not valid: %(error)s") % {"error": error}]
    return []


def condition_sql(condition: Any, *, now: datetime) -> tuple[str, dict[str, Any]]:
    """(predicate over `a`, named parameters). ValueError for a malformed tree."""
    params: dict[str, Any] = {}
    counter = itertools.count()
    sql = _compile(condition, now=now, params=params, counter=counter)
    return sql, params


def _param(params: dict[str, Any], counter: itertools.count[int], value: Any) -> str:
    name = f"c{next(counter)}"
    params[name] = value
    return f"%({name})s"


def _compile(c: Any, *, now: datetime, params: dict[str, Any], counter: itertools.count[int]) -> str:
    if not isinstance(c, dict) or len(c) == 0:
        raise ValueError("a condition is an object")
    if "all" in c or "any" in c:
        parts = c.get("all", c.get("any"))
        if not isinstance(parts, list) or not parts:
            raise ValueError("all/any take a list of conditions")
        joiner = " AND " if "all" in c else " OR "
        return "(" + joiner.join(_compile(p, now=now, params=params, counter=counter) for p in parts) + ")"
    if "not" in c:
        return "(NOT " + _compile(c["not"], now=now, params=params, counter=counter) + ")"
    if "event" in c:
        op = COUNT_OPS[str(c.get("op", ">="))]
        value = int(c.get("value", 1))
        window = ""
        if c.get("within_days") is not None:
            since = now - timedelta(days=float(c["within_days"]))
            window = f" AND ev.occurred_at >= {_param(params, counter, since)}"
        type_param = _param(params, counter, str(c["event"]))
        # The (affiliate, occurred_at) index of crm_event serves the count.
        return (
            "((SELECT count(*) FROM crm_event ev WHERE ev.affiliate_id = a.id"  # noqa: S608 - values are parameters
            f" AND ev.type = {type_param}{window}) {op} {_param(params, counter, value)})"
        )
    if "field" in c:
        field = str(c["field"])
        if field not in FIELDS:
            raise ValueError(f"unknown field {field}")
        op = c.get("op", "eq")
        if op == "in":
            return f"(a.{field} = ANY({_param(params, counter, [str(v) for v in c['value']])}))"
        if op not in ("eq", "ne"):
            raise ValueError(f"unknown operator {op}")
        return f"(a.{field} {'=' if op == 'eq' else '<>'} {_param(params, counter, str(c['value']))})"
    if "tag" in c:
        return f"({_param(params, counter, str(c['tag']))} = ANY(a.tags))"
    if "attribute" in c:
        key = _param(params, counter, str(c["attribute"]))
        op = c.get("op", "exists")
        if op == "exists":
            return f"(COALESCE(a.attributes ->> {key}, '') <> '')"
        if op not in ("eq", "ne"):
            raise ValueError(f"unknown operator {op}")
        wanted = _param(params, counter, str(c["value"]))
        return f"(COALESCE(a.attributes ->> {key}, '') {'=' if op == 'eq' else '<>'} {wanted})"
    if "consent" in c:
        channel = str(c["consent"])
        if channel not in CHANNEL_CODES:
            raise ValueError(f"unknown channel {channel}")
        return f"(a.{channel_get(channel).consent_field})"
    raise ValueError("unknown condition")
