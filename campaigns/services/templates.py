"""Message templates: the one writer. A template is checked (campaigns.templating) before it is
stored, so a saved template always renders; the variables it uses are kept with it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from campaigns.models import MessageTemplate
from campaigns.templating import CHANNEL_FIELDS, template_field_errors, template_variables
from crm.services.audit import audit_record
from tenants.actors import Actor, audit_actor

# What every template has, whatever its channel.
COMMON_FIELDS = ("name", "slug")
AUDIT_CREATED = "message_template.created"
AUDIT_UPDATED = "message_template.updated"
AUDIT_TARGET = "message_template"


def _unique_slug(base: str, *, exclude: int | None) -> str:
    base = (slugify(base) or "modelo")[:70]
    slug, n = base, 1
    taken = MessageTemplate.objects.all() if exclude is None else MessageTemplate.objects.exclude(pk=exclude)
    while taken.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def template_save(
    *, template: MessageTemplate, data: Mapping[str, Any], actor: Actor | None = None
) -> MessageTemplate:
    """Create (an unsaved `template`, its channel set) or change a template from `data` (the
    channel's fields and the common ones; others are ignored). ValidationError by field, in
    Portuguese, naming the field and the variable, for what the template may not say."""
    creating = template.pk is None
    if template.channel not in CHANNEL_FIELDS:
        raise ValidationError({"channel": ValidationError("unknown channel", code="channel")})
    fields = (*COMMON_FIELDS, *CHANNEL_FIELDS[template.channel])
    before = {field: getattr(template, field) for field in fields}
    for field in fields:
        if field in data:
            value = data[field]
            if field == "wa_parameters":
                value = [str(item) for item in (value or []) if str(item).strip()]
            elif isinstance(value, str):
                value = value.strip() if field not in ("body_html", "body_text") else value.strip("\n")
            setattr(template, field, value)
    if not template.slug:
        template.slug = _unique_slug(template.name, exclude=template.pk)
    errors: dict[str, list[str]] = {}
    for field, message in template_field_errors(template):
        errors.setdefault(field, []).append(message)
    if errors:
        raise ValidationError(errors)
    template.variables = template_variables(template)
    who = actor or audit_actor()
    if creating:
        template.created_by = who.label[:254]
    template.full_clean(exclude=["variables"])
    template.save()
    changed = {
        field: getattr(template, field) for field in fields if getattr(template, field) != before[field]
    }
    audit_record(
        action=AUDIT_CREATED if creating else AUDIT_UPDATED,
        target_type=AUDIT_TARGET,
        target_id=template.pk,
        changes={"channel": template.channel, **({} if creating else {"fields": sorted(changed)})},
        actor=actor,
    )
    return template
