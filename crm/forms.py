"""Forms of the UDN space's pages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.brazil import STATES
from crm.models import Channel, Origin, Stage
from crm.selectors.affiliates import DEFAULT_SORT, AffiliateFilters

#: Brazil's 27 federative units, in alphabetical order.
BRAZIL_STATES: tuple[str, ...] = tuple(sorted(STATES))


#: A filter value the list does not know (a hand-edited or outdated URL): said, never ignored.
UNKNOWN_FILTER_VALUE = {"invalid_choice": _("Unknown value “%(value)s”: choose one from the list.")}


class AffiliateFilterForm(forms.Form):
    """The list page's search and filters, read from the query string.

    Every field is optional. A bad value (an over-long search, a stage or state that does not
    exist) is an error shown on the form, and the list then shows no affiliate: ignoring it would
    show the whole base as if it matched."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=200,
        error_messages={
            "max_length": _(
                "The search takes at most %(limit_value)d characters (this one has %(show_value)d)."
            )
        },
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": _("Name, code, CPF, phone or e-mail"),
                "autocomplete": "off",
            }
        ),
    )
    stage = forms.MultipleChoiceField(
        label=_("Stage"),
        required=False,
        choices=Stage.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages=UNKNOWN_FILTER_VALUE,
    )
    tier = forms.ChoiceField(label=_("Deposit tier"), required=False, error_messages=UNKNOWN_FILTER_VALUE)
    origin = forms.ChoiceField(
        label=_("Origin"),
        required=False,
        choices=[("", _("Any origin")), *Origin.choices],
        error_messages=UNKNOWN_FILTER_VALUE,
    )
    tag = forms.CharField(
        label=_("Tag"),
        required=False,
        max_length=40,
        error_messages={
            "max_length": _("A tag has at most %(limit_value)d characters (this one has %(show_value)d).")
        },
    )
    consent = forms.MultipleChoiceField(
        label=_("Consented to"),
        required=False,
        choices=Channel.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages=UNKNOWN_FILTER_VALUE,
    )
    state = forms.ChoiceField(
        label=_("State"),
        required=False,
        choices=[("", _("Any state")), *((uf, uf) for uf in BRAZIL_STATES)],
        error_messages=UNKNOWN_FILTER_VALUE,
    )
    sort = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, tiers: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = [("", _("Any tier")), *((name, name) for name in tiers)]  # type: ignore[attr-defined]

    def to_filters(self) -> AffiliateFilters:
        """The input as filters (call after `is_valid()` returned True)."""
        data = self.cleaned_data
        return AffiliateFilters(
            q=data.get("q") or "",
            stages=tuple(data.get("stage") or ()),
            tier=data.get("tier") or "",
            origin=data.get("origin") or "",
            tag=data.get("tag") or "",
            consent=tuple(data.get("consent") or ()),
            state=data.get("state") or "",
            sort=data.get("sort") or DEFAULT_SORT,
        )
