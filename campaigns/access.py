"""The one door to a UDN's campaigns (as crm.access is to the CRM's objects): the user's
membership in the current UDN is checked first (any member reads, `write=True` only roles that
may change data: PermissionDenied), then the campaign is loaded (Http404 when this UDN has none
by that key)."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.http import Http404
from django_tenants.utils import get_public_schema_name

from campaigns.models import Campaign, Journey
from tenants.selectors import membership_for


def campaign_get(*, user: AbstractBaseUser | AnonymousUser, pk: int, write: bool = False) -> Campaign:
    udn = connection.tenant  # type: ignore[attr-defined]
    if udn is None or udn.schema_name == get_public_schema_name():
        raise Http404
    membership_for(user=user, udn=udn, write=write)  # type: ignore[arg-type]
    try:
        return Campaign.objects.get(pk=pk)
    except Campaign.DoesNotExist:
        raise Http404 from None


def journey_get(*, user: AbstractBaseUser | AnonymousUser, pk: int, write: bool = False) -> Journey:
    """A journey of the current UDN for `user` (PermissionDenied, Http404 as `campaign_get`)."""
    udn = connection.tenant  # type: ignore[attr-defined]
    if udn is None or udn.schema_name == get_public_schema_name():
        raise Http404
    membership_for(user=user, udn=udn, write=write)  # type: ignore[arg-type]
    try:
        return Journey.objects.get(pk=pk)
    except Journey.DoesNotExist:
        raise Http404 from None
