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

    Every field is optional and a field with a bad value is simply ignored (a shared or
    hand-edited URL must never break the page): see `to_filters`."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=200,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": _("Name, CPF, phone or e-mail"),
                "autocomplete": "off",
            }
        ),
    )
    stage = forms.MultipleChoiceField(
        label=_("Stage"), required=False, choices=Stage.choices, widget=forms.CheckboxSelectMultiple
    )
    tier = forms.ChoiceField(label=_("Deposit tier"), required=False)
    origin = forms.ChoiceField(
        label=_("Origin"), required=False, choices=[("", _("Any origin")), *Origin.choices]
    )
    tag = forms.CharField(label=_("Tag"), required=False, max_length=40)
    consent = forms.MultipleChoiceField(
        label=_("Consented to"), required=False, choices=Channel.choices, widget=forms.CheckboxSelectMultiple
    )
    state = forms.ChoiceField(
        label=_("State"), required=False, choices=[("", _("Any state")), *((uf, uf) for uf in BRAZIL_STATES)]
    )
    sort = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, tiers: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = [("", _("Any tier")), *((name, name) for name in tiers)]  # type: ignore[attr-defined]

    def to_filters(self) -> AffiliateFilters:
        """The valid part of the input as filters (call after `is_valid()`; invalid fields drop out)."""
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
