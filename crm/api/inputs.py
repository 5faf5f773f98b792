"""Input serializers: the one place where the API checks the shape of what a client sends, and
the source of the OpenAPI schema's request bodies and query parameters.

The API's contract: a request that does not match the published schema is a 400 (`invalid`,
`required`, `unknown_field`, `read_only`, with the field's path); a request that matches it but
whose data is refused (a CPF whose check digits are wrong, an affiliate that does not exist, a
time out of range, a reused Idempotency-Key) is a 422. So the fields here take JSON as it is —
a string is a string (never trimmed, never a number in disguise), a boolean is true or false —
and refuse NUL characters (PostgreSQL's text and jsonb cannot hold them), and the schema says so
(`pattern`, `additionalProperties: false`, `nullable` where null is taken).

    data = AffiliateWriteSerializer.parse(request.data)   # the validated dict, or a 400
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError

# Any text without a NUL character (JSON Schema's pattern is unanchored: anchored here).
NO_NUL_PATTERN = r"^[^\x00]*$"


def _expected(kind: str) -> str:
    return _("Expected %(type)s.") % {"type": kind}


def has_nul(value: Any) -> bool:
    """Whether a JSON value holds a NUL anywhere (keys included)."""
    return "\\u0000" in json.dumps(value)


def _nul_error() -> ValidationError:
    return ValidationError(_("Text must not contain NUL characters."), code="invalid")


class TextField(serializers.CharField):
    """A JSON string as given (not trimmed), without NUL; `pattern` (a regular expression the
    whole text must match, also published in the schema) with `pattern_message` when it does not."""

    def __init__(
        self,
        *,
        pattern: str | None = None,
        pattern_message: str = "",
        nul_to_service: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        self.pattern = pattern
        self.pattern_message = pattern_message
        # The events service refuses a NUL itself (a 422 on the item, as a batch reports it).
        self.nul_to_service = nul_to_service

    def run_validators(self, value: Any) -> None:
        if self.nul_to_service and isinstance(value, str) and "\x00" in value:
            return  # the service's to refuse (DRF's validator would make it a 400)
        super().run_validators(value)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise ValidationError(_expected(_("a string")), code="invalid")
        if "\x00" in data:
            if self.nul_to_service:
                return data
            raise _nul_error()
        if self.pattern is not None and data and not re.fullmatch(self.pattern, data):
            raise ValidationError(self.pattern_message or _("Invalid value."), code="invalid")
        return str(super().to_internal_value(data))


class ChoiceListField(serializers.ListField):
    """Query values from `choices`, repeated (`stage=a&stage=b`) or comma-separated
    (`stage=a,b`); empty parts are ignored. An unknown one is an error of the field itself."""

    def __init__(self, *, choices: list[str], **kwargs: Any) -> None:
        super().__init__(child=ChoiceTextField(choices=choices), **kwargs)
        self.choices = choices

    def to_internal_value(self, data: Any) -> list[str]:
        values = [data] if isinstance(data, str) else data
        if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
            raise ValidationError(_expected(_("a list of strings")), code="invalid")
        parts = [part for value in values for part in value.split(",") if part]
        for part in parts:
            if part not in self.choices:
                raise ValidationError(
                    _("Unknown value “%(v)s”; expected one of %(values)s.")
                    % {"v": part, "values": ", ".join(self.choices)},
                    code="invalid",
                )
        return parts


class QueryIntegerField(serializers.Field):
    """An integer in the query string ("25"); anything else is a 400."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, int) and not isinstance(data, bool):
            return data
        if not isinstance(data, str) or not re.fullmatch(r"[+-]?[0-9]+", data):
            raise ValidationError(_expected(_("an integer")), code="invalid")
        return int(data)

    def to_representation(self, value: Any) -> Any:
        return value


class ChoiceTextField(serializers.ChoiceField):
    """One of `choices`, as a JSON string."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            raise ValidationError(_expected(_("a string")), code="invalid")
        if data == "" and self.allow_blank:
            return ""
        if data not in self.choice_strings_to_values:
            raise ValidationError(
                _("Unknown value “%(v)s”; expected one of %(values)s.")
                % {"v": data.replace("\x00", ""), "values": ", ".join(map(str, self.choices))},
                code="invalid_choice",
            )
        return self.choice_strings_to_values[data]


class StrictBooleanField(serializers.BooleanField):
    """true or false (not "yes", not 1)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            raise ValidationError(_expected(_("true or false")), code="invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer (not "12", not 12.5, not true)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise ValidationError(_expected(_("an integer")), code="invalid")
        return int(super().to_internal_value(data))


class OffsetDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time string with its time zone offset, kept as given (aware)."""

    def to_internal_value(self, value: Any) -> datetime:
        if not isinstance(value, str):
            raise ValidationError(_expected(_("an ISO 8601 date-time string")), code="invalid")
        try:
            when = parse_datetime(value)
        except ValueError:
            when = None
        if when is None:
            raise ValidationError(
                _("Not an ISO 8601 date-time (e.g. 2026-11-20T12:00:00-03:00)."), code="invalid"
            )
        if when.tzinfo is None:
            raise ValidationError(_("Give the time zone offset (e.g. -03:00)."), code="invalid")
        return when


class JSONObjectField(serializers.DictField):
    """A JSON object of any values, without NUL anywhere."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise ValidationError(_expected(_("an object")), code="invalid")
        if has_nul(data):
            raise _nul_error()
        return data


class AmountField(serializers.Field):
    """A decimal amount as a string ("150.00", "150,00", "R$ 1.234,56") or a JSON number; its
    value is the normaliser's (or the events service's) to judge: a 422 when it is no amount."""

    def __init__(self, *, nul_to_service: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.nul_to_service = nul_to_service

    def to_internal_value(self, data: Any) -> str | int | float:
        if isinstance(data, bool) or not isinstance(data, str | int | float):
            raise ValidationError(_expected(_("a decimal string")), code="invalid")
        if isinstance(data, str) and "\x00" in data and not self.nul_to_service:
            raise _nul_error()
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class TagsField(serializers.Field):
    """A list of strings, or one string of tags separated by , ; or |."""

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, str):
            tags = data
        elif isinstance(data, list) and all(isinstance(tag, str) for tag in data):
            tags = ",".join(data)
        else:
            raise ValidationError(_expected(_("a list of strings")), code="invalid")
        if "\x00" in tags:
            raise _nul_error()
        return tags

    def to_representation(self, value: Any) -> Any:
        return value


class InputSerializer(serializers.Serializer):
    """A request body (or query string) that refuses what it does not know.

    `read_only_names`: fields the resource has but a client cannot write (`read_only`, 400);
    any other unknown name is `unknown_field`. `error_codes` renames DRF's codes to the API's
    (a null where a value is required is `required`, a blank or a wrong choice `invalid`)."""

    read_only_names: ClassVar[frozenset[str]] = frozenset()
    error_codes: ClassVar[dict[str, str]] = {
        "null": "required",
        "blank": "invalid",
        "invalid_choice": "invalid",
        "max_length": "invalid",
        "min_length": "invalid",
        "max_value": "invalid",
        "min_value": "invalid",
        "empty": "invalid",
        "not_a_dict": "invalid",
        "not_a_list": "invalid",
        "null_characters_not_allowed": "invalid",
    }
    default_error_messages = {"invalid": gettext_lazy("Expected an object.")}

    @property  # type: ignore[override]
    def partial(self) -> bool:
        """Never partial: the fields a request may leave out are optional by declaration (a PATCH
        needs nothing else), so the schema has one component per input, not a "Patched" twin."""
        return False

    @partial.setter
    def partial(self, value: bool) -> None:
        pass

    @classmethod
    def parse(cls, data: Any, **context: Any) -> dict[str, Any]:
        """`data` validated: the dict of the fields given (absent ones stay absent), or a 400."""
        if not isinstance(data, Mapping):  # null, a list...: DRF's own path for these is a 500
            raise ValidationError(
                {"non_field_errors": [ErrorDetail(_expected(_("an object")), code="invalid")]}
            )
        serializer = cls(data=data, context=context)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @classmethod
    def parse_query(cls, params: Any, *, ignore: frozenset[str] = frozenset()) -> dict[str, Any]:
        """A query string (a QueryDict) validated: list fields take every value of their name,
        the others the last; the names in `ignore` (e.g. `cursor`, read by the paginator) are
        left out."""
        fields = cls().fields
        data: dict[str, Any] = {}
        for name in params:
            if name in ignore:
                continue
            field = fields.get(name)
            data[name] = (
                params.getlist(name) if isinstance(field, serializers.ListField) else params.get(name)
            )
        return cls.parse(data)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise ValidationError(
                {"non_field_errors": [ErrorDetail(_expected(_("an object")), code="invalid")]}
            )
        for key in data:
            name = str(key)
            if name in self.fields and not self.fields[name].read_only:
                continue
            if name in self.read_only_names or (name in self.fields and self.fields[name].read_only):
                message, code = _("“%(field)s” cannot be written.") % {"field": name}, "read_only"
            else:
                message, code = _("Unknown field “%(field)s”.") % {"field": name}, "unknown_field"
            raise ValidationError({name: [ErrorDetail(message.replace("\x00", ""), code=code)]})
        return super().to_internal_value(data)

    def run_validation(self, data: Any = serializers.empty) -> Any:
        try:
            return super().run_validation(data)
        except ValidationError as error:
            raise ValidationError(self._renamed(error.detail)) from None

    def _renamed(self, detail: Any) -> Any:
        if isinstance(detail, dict):
            return {key: self._renamed(value) for key, value in detail.items()}
        if isinstance(detail, list):
            return [self._renamed(item) for item in detail]
        if isinstance(detail, ErrorDetail):
            return ErrorDetail(str(detail), code=self.error_codes.get(detail.code or "", detail.code))
        return detail


# --- the schema of these fields -----------------------------------------------------------------


_BLANK_ALTERNATIVE = {"type": "string", "maxLength": 0}


class InputSerializerSchema(OpenApiSerializerExtension):
    """Every input serializer's schema refuses properties it does not list, as the server does;
    a serializer may refine its schema with a `schema_refine(schema)` classmethod (conditions
    one field at a time cannot state, e.g. `amount` required for a deposit only)."""

    target_class = "crm.api.inputs.InputSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["additionalProperties"] = False
        serializer_class = self.target if isinstance(self.target, type) else type(self.target)
        if serializer_class.__doc__ is None:  # not this base class's docstring
            schema.pop("description", None)
        for prop in schema.get("properties", {}).values():
            # drf-spectacular offers a blank text as `oneOf: [<the text>, {"maxLength": 0}]`; our
            # patterns take "" too, which would match both: the alternatives are anyOf.
            if _BLANK_ALTERNATIVE in prop.get("oneOf", ()):
                prop["anyOf"] = prop.pop("oneOf")
        refine = getattr(self.target, "schema_refine", None)
        return refine(schema) if refine else schema


class TextFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "crm.api.inputs.TextField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = dict(auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True))
        schema["pattern"] = self.target.pattern or NO_NUL_PATTERN
        return schema


class ChoiceListFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "crm.api.inputs.ChoiceListField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "string", "enum": list(self.target.choices)}}


class QueryIntegerFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "crm.api.inputs.QueryIntegerField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {"type": "integer"}


class ChoiceTextFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "crm.api.inputs.ChoiceTextField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        blank = [""] if self.target.allow_blank else []
        schema: dict[str, Any] = {"type": "string", "enum": [*blank, *self.target.choices]}
        if self.target.allow_null:
            schema["nullable"] = True
        return schema


class JSONObjectFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "crm.api.inputs.JSONObjectField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "object", "additionalProperties": JSON_VALUE}
        if self.target.allow_null:
            schema["nullable"] = True
        return schema


class AmountFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "crm.api.inputs.AmountField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "anyOf": [{"type": "string", "pattern": NO_NUL_PATTERN}, {"type": "number"}]
        }
        if self.target.allow_null:
            schema["nullable"] = True
        return schema


class TagsFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "crm.api.inputs.TagsField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        text = {"type": "string", "pattern": NO_NUL_PATTERN}
        schema: dict[str, Any] = {"anyOf": [{"type": "array", "items": text}, text]}
        if self.target.allow_null:
            schema["nullable"] = True
        return schema


_NO_NUL_TEXT = {"type": "string", "pattern": NO_NUL_PATTERN}
_ANY_NESTED: dict[str, Any] = {}  # below the first level, any JSON (the server takes any depth)
JSON_VALUE: dict[str, Any] = {
    "anyOf": [
        _NO_NUL_TEXT,
        {"type": "number"},
        {"type": "boolean"},
        {"type": "array", "items": _ANY_NESTED},
        {"type": "object", "additionalProperties": _ANY_NESTED},
    ],
    "nullable": True,
}
