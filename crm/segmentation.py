"""Segments' conditions: the stored JSON schema, its validation and its compilation to SQL.

A segment's `definition` (schema version 1) is a tree of nodes:

    {"version": 1, "root": {"kind": "group", "op": "and", "conditions": [...]}}

    group       {"kind": "group", "op": "and" | "or", "conditions": [node, ...]}
    not         {"kind": "not", "condition": node}
    field       {"kind": "field", "field": "city", "operator": "eq", "value": "Recife"}
                  text fields: eq ne in not_in contains starts_with blank present (accents and case
                  ignored); dates (aaaa-mm-dd) and amounts: eq ne lt lte gt gte blank present
    consent     {"kind": "consent", "channel": "whatsapp", "value": true}
    stage       {"kind": "stage", "operator": "in" | "not_in" | "reached", "value": ["cash_in"]}
    tier        {"kind": "tier", "operator": "in" | "not_in", "value": ["Ouro"]}  ("" = no tier)
    tags        {"kind": "tags", "operator": "any" | "all" | "none", "value": ["vip"]}
    attribute   {"kind": "attribute", "key": "course", "operator": "eq", "value": "Investimentos"}
                  eq ne contains present blank (as text); lt lte gt gte (numbers)
    event       {"kind": "event", "type": "cash_in", "measure": "count" | "sum",
                 "operator": "gte" | "gt" | "eq" | "lte" | "lt", "value": 2, "within_days": 30}
                  count gte 1: did it; count eq 0: never did it; within_days optional
    sequence    {"kind": "sequence", "type": "app_downloaded", "then": "app_activated",
                 "within_hours": 24, "followed": false, "within_days": 30}
                  did `type` and (not) `then` within the hours after it; "not followed" counts
                  only once the hours have passed (a download of an hour ago is still waiting)
    segment     {"kind": "segment", "segment_id": 12}   (its conditions, inlined; no cycles)

`definition_parse` checks a definition and names each faulty condition in the errors (pt-BR
through gettext); `compile_where` turns a parsed tree into one SQL predicate over the affiliates
table (`"crm_affiliate"`, as Django's queries name it) and its parameters: values always travel
as parameters, never inside the SQL text. Event conditions are EXISTS / NOT EXISTS subqueries on
the (affiliate, occurred_at) index, or an IN over one grouped pass of the event type for counts
and sums (PostgreSQL makes either a semi-join); no Python loop over affiliates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TypeGuard

from django.utils.translation import gettext as _

from crm.brazil import ACCENTED, PLAIN, fold
from crm.channels import CHANNEL_CODES
from crm.fields import FIELDS
from crm.models import STAGE_ORDER, Origin, Stage

SCHEMA_VERSION = 1
#: How deep groups may nest, and how many conditions a segment may hold (a UI builds them; a
#: bigger tree is a mistake, and would make a query nobody can read).
MAX_DEPTH = 6
MAX_CONDITIONS = 50
MAX_LIST_VALUES = 200
MAX_WITHIN_DAYS = 3650
MAX_WITHIN_HOURS = 24 * 365

AFFILIATE = '"crm_affiliate"'  # how Django's queries over Affiliate name the table
EVENT = '"crm_event"'

# The fields a condition may test: the standard ones crm.fields describes (tags have their own
# condition) plus the total cash in the events derive.
FIELD_KINDS: dict[str, str] = {name: spec.kind for name, spec in FIELDS.items() if spec.kind != "tags"}
FIELD_KINDS["total_cash_in"] = "decimal"
TEXT_OPERATORS = ("eq", "ne", "in", "not_in", "contains", "starts_with", "blank", "present")
ORDER_OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "blank", "present")
ATTRIBUTE_OPERATORS = ("eq", "ne", "contains", "present", "blank", "lt", "lte", "gt", "gte")
EVENT_OPERATORS = ("gte", "gt", "eq", "lte", "lt")
COMPARE_SQL = {"eq": "=", "ne": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
NO_VALUE_OPERATORS = ("blank", "present")


class SegmentInvalid(Exception):
    """The definition breaks the schema; `errors` name each faulty condition."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Node:
    """A checked condition: its `kind`, its normalised `data`, and its children (group, not)."""

    kind: str
    data: dict[str, Any]
    children: tuple[Node, ...] = ()

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class References:
    """What a tree mentions: event types, affiliate fields (for the hooks' routing) and segments."""

    event_types: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)
    segments: set[int] = field(default_factory=set)


# --- validation ---------------------------------------------------------------------------------


@dataclass
class _Checker:
    event_types: set[str]
    tiers: set[str]
    errors: list[str] = field(default_factory=list)
    count: int = 0

    def fail(self, path: str, node: Any, message: str) -> None:
        self.errors.append(
            _("Condition %(path)s (%(what)s): %(message)s")
            % {"path": path, "what": describe(node), "message": message}
        )

    def node(self, raw: Any, path: str, depth: int) -> Node | None:
        self.count += 1
        if not isinstance(raw, dict):
            self.errors.append(_("Condition %(path)s: not a condition.") % {"path": path})
            return None
        kind = raw.get("kind")
        checker = getattr(self, f"_{kind}", None) if isinstance(kind, str) else None
        if checker is None:
            self.fail(path, raw, _("unknown kind of condition."))
            return None
        result: Node | None = checker(raw, path, depth)
        return result

    def _group(self, raw: dict[str, Any], path: str, depth: int) -> Node | None:
        if depth > MAX_DEPTH:
            self.fail(path, raw, _("groups nest too deep (at most %(n)s levels).") % {"n": MAX_DEPTH})
            return None
        op = raw.get("op")
        if op not in ("and", "or"):
            self.fail(path, raw, _("a group joins its conditions with “all” (and) or “any” (or)."))
        conditions = raw.get("conditions")
        if not isinstance(conditions, list) or not conditions:
            self.fail(path, raw, _("the group has no conditions."))
            return None
        prefix = f"{path}." if path else ""
        children = [self.node(child, f"{prefix}{n}", depth + 1) for n, child in enumerate(conditions, 1)]
        if op not in ("and", "or") or any(child is None for child in children):
            return None
        return Node("group", {"op": op}, tuple(child for child in children if child is not None))

    def _not(self, raw: dict[str, Any], path: str, depth: int) -> Node | None:
        child = self.node(raw.get("condition"), f"{path}.1" if path else "1", depth + 1)
        return Node("not", {}, (child,)) if child is not None else None

    def _field(self, raw: dict[str, Any], path: str, depth: int) -> Node | None:
        name, operator, value = raw.get("field"), raw.get("operator"), raw.get("value")
        kind = FIELD_KINDS.get(name) if isinstance(name, str) else None
        if kind is None:
            self.fail(path, raw, _("unknown field."))
            return None
        operators = TEXT_OPERATORS if kind == "text" else ORDER_OPERATORS
        if operator not in operators:
            self.fail(path, raw, _("this operator does not apply to this field."))
            return None
        if operator in NO_VALUE_OPERATORS:
            return Node("field", {"field": name, "operator": operator, "value": None})
        parsed: Any
        if kind == "text":
            values = value if operator in ("in", "not_in") else [value]
            if not _texts(values) or (
                operator in ("contains", "starts_with", "eq") and not str(value).strip()
            ):
                self.fail(path, raw, _("give a text value."))
                return None
            if name == "origin" and any(item not in Origin.values for item in values):
                self.fail(path, raw, _("unknown origin."))
                return None
            parsed = (
                [str(item).strip() for item in values] if operator in ("in", "not_in") else str(value).strip()
            )
        elif kind == "date":
            parsed = _date(value)
            if parsed is None:
                self.fail(path, raw, _("give a date (dd/mm/aaaa)."))
                return None
            parsed = parsed.isoformat()
        else:
            parsed = _decimal(value)
            if parsed is None:
                self.fail(path, raw, _("give a number."))
                return None
            parsed = str(parsed)
        return Node("field", {"field": name, "operator": operator, "value": parsed})

    def _consent(self, raw: dict[str, Any], path: str, depth: int) -> Node | None:
        channel, value = raw.get("channel"), raw.get("value", True)
        if channel not in CHANNEL_CODES:
            self.fail(path, raw, _("unknown channel."))
            return None
        if not isinstance(value, bool):
            self.fail(path, raw, _("say whether the consent is given or not."))
            return None
        return Node("consent", {"channel": channel, "value": value})

    def _stage(self, raw: dict[str, Any], path: str, depth: int) -> Node | None:
        operator, value = raw.get("operator"), raw.get("value")
        if operator not in ("in", "not_in", "reached"):
            self.fail(path, raw, _("this operator does not apply to the stage."))
            return None
        values = [value] if operator == "reached" and isinstance(value, str) else value
        if not _texts(values) or any(item not in STAGE_ORDER for item in values):
            self.fail(path, raw, _("unknown stage."))
            return None
        if operator == "reached" and len(values) != 1:
            self.fail(path, raw, _("choose one stage."))
            return None
        return Node("stage", {"operator": operator, "value": values[0] if operator == "reached" else values})

    def _tier(self, raw: dict[str, Any], path: str, depth: int) -> Node | None:
        operator, value = raw.get("operator"), raw.get("value")
        if operator not in ("in", "not_in"):
            self.fail(path, raw, _("this operator does not apply to the tier."))
            return None
        if not _texts(value, allow_blank=True) or any(item and item not in self.tiers for item in value):
            self.fail(path, raw, _("unknown tier."))
            return None
        return Node("tier", {"operator": operator, "value": list(value)})

    def _tags(self, raw: dict[str, Any], path: str, depth: int) -> Node | None:
        operator, value = raw.get("operator"), raw.get("value")
        if operator not in ("any", "all", "none"):
            self.fail(path, raw, _("this operator does not apply to tags."))
            return None
        if not _texts(value) or any(len(item) > 40 for item in value):
            self.fail(path, raw, _("give one tag or more."))
            return None
        return Node("tags", {"operator": operator, "value": [item.strip() for item in value]})

    def _attribute(self, raw: dict[str, Any], path: str, depth: int) -> Node | None:
        key, operator, value = raw.get("key"), raw.get("operator"), raw.get("value")
        if not isinstance(key, str) or not key.strip() or len(key) > 100 or "\x00" in key:
            self.fail(path, raw, _("give the attribute's name."))
            return None
        if operator not in ATTRIBUTE_OPERATORS:
            self.fail(path, raw, _("this operator does not apply to attributes."))
            return None
        parsed: Any = None
        if operator in ("lt", "lte", "gt", "gte"):
            parsed = _decimal(value)
            if parsed is None:
                self.fail(path, raw, _("give a number."))
                return None
            parsed = str(parsed)
        elif operator not in NO_VALUE_OPERATORS:
            if not _texts([value]):
                self.fail(path, raw, _("give a text value."))
                return None
            parsed = str(value)
        return Node("attribute", {"key": key.strip(), "operator": operator, "value": parsed})

    def _event_type(self, raw: dict[str, Any], path: str, key: str) -> str | None:
        value = raw.get(key)
        if not isinstance(value, str) or value not in self.event_types:
            self.fail(path, raw, _("unknown event type."))
            return None
        return value

    def _within(self, raw: dict[str, Any], path: str, key: str, most: int) -> tuple[bool, int | None]:
        value = raw.get(key)
        if value in (None, ""):
            return True, None
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
            self.fail(path, raw, _("the period is a whole number from 1 to %(n)s.") % {"n": most})
            return False, None
        return True, value

    def _event(self, raw: dict[str, Any], path: str, depth: int) -> Node | None:
        event_type = self._event_type(raw, path, "type")
        measure, operator = raw.get("measure", "count"), raw.get("operator")
        ok, within = self._within(raw, path, "within_days", MAX_WITHIN_DAYS)
        if event_type is None or not ok:
            return None
        if measure not in ("count", "sum") or operator not in EVENT_OPERATORS:
            self.fail(path, raw, _("compare the number of events or the sum of their amounts."))
            return None
        number = _decimal(raw.get("value"))
        if number is None or number < 0 or (measure == "count" and number != number.to_integral_value()):
            self.fail(path, raw, _("give a number of events (0 or more) or an amount in R$."))
            return None
        value = str(int(number)) if measure == "count" else str(number)
        return Node(
            "event",
            {
                "type": event_type,
                "measure": measure,
                "operator": operator,
                "value": value,
                "within_days": within,
            },
        )

    def _sequence(self, raw: dict[str, Any], path: str, depth: int) -> Node | None:
        first, then = self._event_type(raw, path, "type"), self._event_type(raw, path, "then")
        ok_hours, hours = self._within(raw, path, "within_hours", MAX_WITHIN_HOURS)
        ok_days, days = self._within(raw, path, "within_days", MAX_WITHIN_DAYS)
        if first is None or then is None or not ok_hours or not ok_days:
            return None
        if hours is None:
            self.fail(path, raw, _("say within how many hours."))
            return None
        followed = raw.get("followed", False)
        if not isinstance(followed, bool):
            self.fail(path, raw, _("say whether it was followed or not."))
            return None
        return Node(
            "sequence",
            {"type": first, "then": then, "within_hours": hours, "followed": followed, "within_days": days},
        )

    def _segment(self, raw: dict[str, Any], path: str, depth: int) -> Node | None:
        segment_id = raw.get("segment_id")
        if isinstance(segment_id, str) and segment_id.isdigit():
            segment_id = int(segment_id)
        if isinstance(segment_id, bool) or not isinstance(segment_id, int) or segment_id <= 0:
            self.fail(path, raw, _("choose a segment."))
            return None
        return Node("segment", {"segment_id": segment_id})


def _texts(values: Any, *, allow_blank: bool = False) -> TypeGuard[list[str]]:
    return (
        isinstance(values, list)
        and 0 < len(values) <= MAX_LIST_VALUES
        and all(
            isinstance(item, str)
            and (allow_blank or item.strip())
            and len(item) <= 200
            and "\x00" not in item
            for item in values
        )
    )


def _date(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(value.strip(), pattern).date()
        except ValueError:
            continue
    return None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip()
    if isinstance(value, str) and "," in text:  # 1.234,56 as people type it
        text = text.replace(".", "").replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    if not number.is_finite() or abs(number) >= Decimal("1e12"):
        return None
    return number.quantize(Decimal("0.01")) if number != number.to_integral_value() else number


def definition_parse(definition: Any, *, event_types: set[str], tiers: set[str]) -> Node:
    """The checked tree of a stored definition, or SegmentInvalid listing every faulty condition."""
    if not isinstance(definition, dict):
        raise SegmentInvalid([_("The segment's conditions are not in the expected format.")])
    if definition.get("version") != SCHEMA_VERSION:
        raise SegmentInvalid(
            [_("Unknown version of the segment format (expected %(n)s).") % {"n": SCHEMA_VERSION}]
        )
    checker = _Checker(event_types=event_types, tiers=tiers)
    root = definition.get("root")
    if isinstance(root, dict) and root.get("kind") == "group" and not root.get("conditions"):
        raise SegmentInvalid([_("Add at least one condition.")])
    node = checker.node(root, "", 0)
    if checker.count > MAX_CONDITIONS:
        checker.errors.append(_("A segment holds at most %(n)s conditions.") % {"n": MAX_CONDITIONS})
    if checker.errors or node is None:
        raise SegmentInvalid(
            checker.errors or [_("The segment's conditions are not in the expected format.")]
        )
    return node


def definition_of(node: Node) -> dict[str, Any]:
    """The stored JSON of a checked tree (normalised values), with its version."""
    return {"version": SCHEMA_VERSION, "root": _node_json(node)}


def _node_json(node: Node) -> dict[str, Any]:
    if node.kind == "group":
        return {"kind": "group", "op": node.data["op"], "conditions": [_node_json(c) for c in node.children]}
    if node.kind == "not":
        return {"kind": "not", "condition": _node_json(node.children[0])}
    return {"kind": node.kind, **node.data}


def references_of(node: Node) -> References:
    """What a tree names directly (not through the segments it names)."""
    refs = References()
    for item in node.walk():
        data = item.data
        if item.kind == "field":
            refs.fields.add(data["field"])
        elif item.kind == "consent":
            refs.fields.add(f"consent_{data['channel']}")
        elif item.kind in ("stage", "tier", "tags"):
            refs.fields.add(item.kind)
            if item.kind != "tags":  # stage and tier move with events
                refs.event_types.add("*")
        elif item.kind == "attribute":
            refs.fields.add("attributes")
        elif item.kind == "event":
            refs.event_types.add(data["type"])
        elif item.kind == "sequence":
            refs.event_types.update((data["type"], data["then"]))
        elif item.kind == "segment":
            refs.segments.add(data["segment_id"])
    return refs


def segment_ids_named(raw: Any) -> set[int]:
    """The segments an unchecked JSON tree names ("in segment X" nodes, at any depth): for
    finding who uses a segment in what other apps store (a journey step's condition), where a
    tree saved long ago need not parse today."""
    found: set[int] = set()
    stack = [raw]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("kind") == "segment" and isinstance(item.get("segment_id"), int):
                found.add(item["segment_id"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def describe(raw: Any, *, values: bool = False) -> str:
    """A short, readable name for a condition (in the errors), from its raw JSON. With `values`, a
    condition over a list (a field's in / not in, stage, tier, tags) says which of them it means,
    any, all or none, and lists them ("tem alguma das tags vip, sp"), for a branch's reason."""
    if not isinstance(raw, dict):
        return "?"
    if values and (listed := _describe_listed(raw)):
        return listed
    kind = raw.get("kind")
    names = {
        "group": _("group"),
        "not": _("not"),
        "field": _("field %(name)s"),
        "consent": _("consent %(name)s"),
        "stage": _("stage"),
        "tier": _("tier"),
        "tags": _("tags"),
        "attribute": _("attribute %(name)s"),
        "event": _("event %(name)s"),
        "sequence": _("event %(name)s followed by %(then)s"),
        "segment": _("in segment %(name)s"),
    }
    if not isinstance(kind, str) or kind not in names:
        return _("condition")
    name = (
        raw.get("field") or raw.get("channel") or raw.get("key") or raw.get("type") or raw.get("segment_id")
    )
    if kind == "field":
        name = field_label(raw.get("field"))
    return names[kind] % {"name": str(name or "?")[:60], "then": str(raw.get("then") or "?")[:60]}


def _describe_listed(raw: dict[str, Any]) -> str | None:
    """A list condition read with its operator (as the compiler treats it), or None."""
    kind, operator, value = raw.get("kind"), raw.get("operator"), raw.get("value")
    if kind == "stage" and operator == "reached" and isinstance(value, (str, list)):
        stage = value if isinstance(value, str) else ", ".join(str(item) for item in value)
        return _("stage %(stage)s or a later one") % {"stage": _stage_label(stage)}
    if not isinstance(value, list):
        return None
    if kind == "stage":
        items = ", ".join(_stage_label(str(item)) for item in value)
    elif kind == "tier":
        items = ", ".join(str(item) if item else _("(no tier)") for item in value)
    else:
        items = ", ".join(str(item) for item in value)
    phrases = {
        ("tags", "any"): _("has any of the tags %(items)s"),
        ("tags", "all"): _("has all of the tags %(items)s"),
        ("tags", "none"): _("has none of the tags %(items)s"),
        ("stage", "in"): _("stage is one of %(items)s"),
        ("stage", "not_in"): _("stage is none of %(items)s"),
        ("tier", "in"): _("tier is one of %(items)s"),
        ("tier", "not_in"): _("tier is none of %(items)s"),
        ("field", "in"): _("%(name)s is one of %(items)s"),
        ("field", "not_in"): _("%(name)s is none of %(items)s"),
    }
    phrase = phrases.get((str(kind), str(operator)))
    if phrase is None:
        return None
    name = _("field %(name)s") % {"name": field_label(raw.get("field"))[:60]}
    return phrase % {"items": items, "name": name}


def field_label(name: Any) -> str:
    """A field's pt-BR label as the builder names it ("cidade", not "city"); an unknown name as is."""
    if name == "total_cash_in":
        return str(_("total cash in"))
    if isinstance(name, str) and name in FIELDS:
        return str(FIELDS[name].label)
    return str(name or "?")


def _stage_label(code: str) -> str:
    return str(Stage(code).label) if code in Stage.values else code


# --- compilation --------------------------------------------------------------------------------

FOLD_SQL = f"lower(translate({{}}, '{ACCENTED}', '{PLAIN}'))"


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass
class Compiler:
    """Turns a checked tree into (sql, params). `resolve` gives a named segment's checked tree
    (SegmentInvalid for one that no longer exists); `now` anchors the time windows."""

    resolve: Callable[[int], Node]
    now: dt.datetime
    params: list[Any] = field(default_factory=list)
    aliases: int = 0
    stack: tuple[int, ...] = ()
    # Only these affiliates matter (a refresh after some of them changed): the grouped passes over a
    # type's events read theirs only, not every affiliate's.
    only_ids: list[int] | None = None

    def p(self, value: Any) -> str:
        self.params.append(value)
        return "%s"

    def alias(self) -> str:
        self.aliases += 1
        return f"e{self.aliases}"

    def sql(self, node: Node) -> str:
        method: Callable[[Node], str] = getattr(self, f"_{node.kind}")
        return method(node)

    def _group(self, node: Node) -> str:
        joiner = " AND " if node.data["op"] == "and" else " OR "
        return "(" + joiner.join(self.sql(child) for child in node.children) + ")"

    def _not(self, node: Node) -> str:
        return f"(NOT {self.sql(node.children[0])})"

    def _field(self, node: Node) -> str:
        name, operator, value = node.data["field"], node.data["operator"], node.data["value"]
        column = f"{AFFILIATE}.{name}"
        kind = FIELD_KINDS[name]
        if kind == "text":
            if operator == "blank":
                return f"({column} = '')"
            if operator == "present":
                return f"({column} <> '')"
            folded = FOLD_SQL.format(column)
            if operator in ("in", "not_in"):
                sql = f"({folded} = ANY({self.p([fold(item) for item in value])}::text[]))"
                return sql if operator == "in" else f"(NOT {sql})"
            if operator == "contains":
                return f"({folded} LIKE {self.p('%' + _like_escape(fold(value)) + '%')})"
            if operator == "starts_with":
                return f"({folded} LIKE {self.p(_like_escape(fold(value)) + '%')})"
            return f"({folded} {COMPARE_SQL[operator]} {self.p(fold(value))})"
        # Nullable columns: a missing value never matches a comparison, and NOT over it must hold.
        if operator == "blank":
            return f"({column} IS NULL)"
        if operator == "present":
            return f"({column} IS NOT NULL)"
        typed = dt.date.fromisoformat(value) if kind == "date" else Decimal(value)
        return f"COALESCE({column} {COMPARE_SQL[operator]} {self.p(typed)}, false)"

    def _consent(self, node: Node) -> str:
        column = f"{AFFILIATE}.consent_{node.data['channel']}"
        return f"({column})" if node.data["value"] else f"(NOT {column})"

    def _stage(self, node: Node) -> str:
        operator, value = node.data["operator"], node.data["value"]
        stages = STAGE_ORDER[STAGE_ORDER.index(value) :] if operator == "reached" else value
        sql = f"({AFFILIATE}.stage = ANY({self.p(list(stages))}::text[]))"
        return f"(NOT {sql})" if operator == "not_in" else sql

    def _tier(self, node: Node) -> str:
        sql = f"({AFFILIATE}.tier = ANY({self.p(list(node.data['value']))}::text[]))"
        return f"(NOT {sql})" if node.data["operator"] == "not_in" else sql

    def _tags(self, node: Node) -> str:
        operator, tags = node.data["operator"], self.p(list(node.data["value"]))
        column = f"{AFFILIATE}.tags"
        if operator == "all":
            return f"({column} @> {tags}::varchar[])"
        sql = f"({column} && {tags}::varchar[])"  # the tags' GIN index
        return sql if operator == "any" else f"(NOT {sql})"

    def _attribute(self, node: Node) -> str:
        key, operator, value = node.data["key"], node.data["operator"], node.data["value"]
        if operator in ("lt", "lte", "gt", "gte"):
            key_param = self.p(key)
            number = (
                f"CASE WHEN jsonb_typeof({AFFILIATE}.attributes -> {key_param}) = 'number' "
                f"THEN ({AFFILIATE}.attributes ->> {self.p(key)})::numeric END"
            )
            return f"COALESCE({number} {COMPARE_SQL[operator]} {self.p(Decimal(value))}, false)"
        text = f"({AFFILIATE}.attributes ->> {self.p(key)})"
        if operator == "present":
            return f"COALESCE({text} <> '', false)"
        if operator == "blank":
            return f"COALESCE({text} = '', true)"
        if operator == "contains":
            return f"COALESCE({FOLD_SQL.format(text)} LIKE {self.p('%' + _like_escape(fold(value)) + '%')}, false)"
        return f"COALESCE({FOLD_SQL.format(text)} {COMPARE_SQL[operator]} {self.p(fold(value))}, false)"

    def _since(self, alias: str, days: int | None) -> str:
        if days is None:
            return ""
        return f" AND {alias}.occurred_at >= {self.p(self.now - dt.timedelta(days=days))}"

    def _event(self, node: Node) -> str:
        data = node.data
        measure, operator = data["measure"], data["operator"]
        value = int(data["value"]) if measure == "count" else Decimal(data["value"])
        zero_matches = _compare(0, operator, value)
        e = self.alias()
        where = f"{e}.type = {self.p(data['type'])}{self._since(e, data['within_days'])}"
        aggregate = "count(*)" if measure == "count" else f"coalesce(sum({e}.amount), 0)"
        correlated = f"{e}.affiliate_id = {AFFILIATE}.id AND "
        any_count = (operator == "gte" and value <= 1) or (operator == "gt" and value < 1)
        only_zero = (operator in ("eq", "lte") and value == 0) or (operator == "lt" and value == 1)
        if measure == "count" and any_count and not zero_matches:
            # Did it at least once: a semi-join on the (affiliate, occurred_at) index.
            return f"EXISTS (SELECT 1 FROM {EVENT} {e} WHERE {correlated}{where})"  # noqa: S608
        if measure == "count" and only_zero:
            # Never did it: an anti-join.
            return f"(NOT EXISTS (SELECT 1 FROM {EVENT} {e} WHERE {correlated}{where}))"  # noqa: S608
        if measure == "count" and operator in ("gte", "gt") and zero_matches:
            return "(true)"
        if not zero_matches:
            # Only affiliates with such events can match: one grouped pass over the type's events.
            # (Parameters are taken in the order they appear in the text.)
            if self.only_ids is not None:
                where += f" AND {e}.affiliate_id = ANY({self.p(self.only_ids)}::bigint[])"
            comparison = f"{aggregate} {COMPARE_SQL[operator]} {self.p(value)}"
            return (
                f"({AFFILIATE}.id IN (SELECT {e}.affiliate_id FROM {EVENT} {e} WHERE {where}"  # noqa: S608
                f" GROUP BY {e}.affiliate_id HAVING {comparison}))"
            )
        # Affiliates without such events match too: those whose events break the comparison do not.
        comparison = f"{aggregate} {COMPARE_SQL[operator]} {self.p(value)}"
        return f"(NOT EXISTS (SELECT 1 FROM {EVENT} {e} WHERE {correlated}{where} HAVING NOT ({comparison})))"  # noqa: S608

    def _sequence(self, node: Node) -> str:
        data = node.data
        first, then = self.alias(), self.alias()
        hours = dt.timedelta(hours=data["within_hours"])
        where = f"{first}.type = {self.p(data['type'])}{self._since(first, data['within_days'])}"
        # Not followed: only once the period has passed (before, the affiliate may still do it).
        # (Parameters are taken in the order they appear in the text.)
        waited = "" if data["followed"] else f"{first}.occurred_at <= {self.p(self.now - hours)} AND NOT "
        follow = (
            f"SELECT 1 FROM {EVENT} {then} WHERE {then}.affiliate_id = {first}.affiliate_id"  # noqa: S608
            f" AND {then}.type = {self.p(data['then'])} AND {then}.occurred_at >= {first}.occurred_at"
            f" AND {then}.occurred_at <= {first}.occurred_at + {self.p(hours)}"
        )
        inner = f"{waited}EXISTS ({follow})"
        return f"EXISTS (SELECT 1 FROM {EVENT} {first} WHERE {first}.affiliate_id = {AFFILIATE}.id AND {where} AND {inner})"  # noqa: S608

    def _segment(self, node: Node) -> str:
        segment_id = node.data["segment_id"]
        if segment_id in self.stack:
            raise SegmentInvalid([_("A segment cannot include itself, directly or through another segment.")])
        inner = Compiler(
            resolve=self.resolve,
            now=self.now,
            params=self.params,
            aliases=self.aliases,
            only_ids=self.only_ids,
        )
        inner.stack = (*self.stack, segment_id)
        sql = inner.sql(self.resolve(segment_id))
        self.aliases = inner.aliases
        return sql


def _compare(left: Decimal | int, operator: str, right: Decimal | int) -> bool:
    return {
        "eq": left == right,
        "ne": left != right,
        "lt": left < right,
        "lte": left <= right,
        "gt": left > right,
        "gte": left >= right,
    }[operator]


def compile_where(
    node: Node,
    *,
    resolve: Callable[[int], Node],
    now: dt.datetime,
    segment_id: int | None = None,
    only_ids: list[int] | None = None,
) -> tuple[str, list[Any]]:
    """One SQL predicate over `"crm_affiliate"` for the tree, and its parameters (in order). With
    `only_ids`, it holds for those affiliates only (the caller filters the others out anyway)."""
    compiler = Compiler(resolve=resolve, now=now, only_ids=only_ids)
    if segment_id is not None:
        compiler.stack = (segment_id,)
    return compiler.sql(node), compiler.params
