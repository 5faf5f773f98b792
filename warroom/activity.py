"""The activity log's sentences, said once: each entry is stored as a code and its parameters and
translated when shown, so a reader sees it in their own language whatever the writer's was."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

#: code → English sentence (the msgid); parameters named as in the sentence.
VERBS: dict[str, str] = {
    "column_added": gettext_noop("added the column “%(name)s”"),
    "column_changed": gettext_noop("changed the column “%(name)s”"),
    "column_removed": gettext_noop("removed the column “%(name)s”"),
    "columns_reordered": gettext_noop("reordered the columns"),
    "action_created": gettext_noop("created the action"),
    "action_changed": gettext_noop("changed the action"),
    "action_assigned": gettext_noop("made %(owner)s responsible"),
    "action_moved": gettext_noop("moved it from “%(old)s” to “%(new)s”"),
    "deadline_set": gettext_noop("set the deadline to %(day)s"),
    "checklist_added": gettext_noop("added “%(item)s” to the checklist"),
    "checklist_ticked": gettext_noop("ticked “%(item)s”"),
    "checklist_unticked": gettext_noop("unticked “%(item)s”"),
    "commented": gettext_noop("commented"),
    "campaign_created": gettext_noop("created the campaign"),
    "campaign_changed": gettext_noop("changed the campaign"),
    "campaign_moved": gettext_noop("moved the campaign from %(old)s to %(new)s"),
    "campaign_proposed": gettext_noop("proposed the campaign to the source UDNs"),
    "source_approved": gettext_noop("approved for %(udn)s"),
    "source_declined": gettext_noop("declined for %(udn)s"),
    "campaign_launched": gettext_noop("launched the campaign in the source UDNs"),
    "conflict_days_set": gettext_noop("set the fatigue window to %(days)s days"),
}

#: Parameters holding a day, by code (stored as ISO 8601, shown in the reader's date format).
DAY_PARAMS = {"deadline_set": ("day",), "campaign_moved": ("old", "new")}
#: A free text appended after the sentence (a decision's comment).
COMMENT = "comment"


def activity_params(**params: Any) -> dict[str, Any]:
    """Parameters as stored (JSON): days as ISO dates."""
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in params.items()}


def activity_text(*, code: str, params: dict[str, Any]) -> str:
    template = VERBS.get(code)
    if template is None:
        return code
    shown = dict(params)
    for name in DAY_PARAMS.get(code, ()):
        if name in shown:
            shown[name] = formats.date_format(date.fromisoformat(str(shown[name])), "SHORT_DATE_FORMAT")
    text = _(template) % shown
    if shown.get(COMMENT):
        text += f": {shown[COMMENT]}"
    return text
