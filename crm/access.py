"""The one door to a UDN's objects (healthchecks' `_get_check_for_user`): a loader per object kind
a page names in its URL. Each checks the user's membership in the current UDN (the connection's
schema, where the object is read from) through `tenants.selectors.membership_for` — any member
may read, `write=True` only roles that may change data — then loads the object, raising
PermissionDenied (not a member, read-only role) or Http404 (no such object in this UDN).

The role is checked before the lookup, so a read-only member cannot tell which keys exist."""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection
from django.db.models import Model
from django.http import Http404
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name

from crm.models import Affiliate, ApiKey, ImportJob, Segment, WebhookDelivery, WebhookSubscription
from crm.selectors import affiliates as affiliate_selectors
from tenants.models import Membership
from tenants.selectors import membership_for

AnyUser = AbstractBaseUser | AnonymousUser  # request.user, signed in or not
M = TypeVar("M", bound=Model)


def _member(*, user: AnyUser, write: bool) -> Membership:
    """The user's membership in the UDN the connection is in, or PermissionDenied."""
    udn: Any = connection.tenant  # type: ignore[attr-defined]
    if udn is None or udn.schema_name == get_public_schema_name():
        raise Http404  # UDN objects live in a UDN's schema; the shared space has none
    return membership_for(user=user, udn=udn, write=write)  # type: ignore[arg-type]


def _one(model: type[M], pk: Any) -> M:
    try:
        return model._default_manager.get(pk=pk)
    except ObjectDoesNotExist:
        raise Http404 from None


def lake_destination_full_allowed(*, user: AnyUser) -> bool:
    """Whether `user` sees where the lake exports go (a server's folders, a bucket's name) rather
    than only the kind of storage: platform administrators only, never a UDN role."""
    return bool(getattr(user, "is_superuser", False))  # AbstractBaseUser types no is_superuser


def affiliate_get(*, user: AnyUser, pk: int) -> Affiliate:
    _member(user=user, write=False)
    try:
        return affiliate_selectors.affiliate_get(pk=pk)
    except Affiliate.DoesNotExist:
        raise Http404(_("No such affiliate in this UDN.")) from None


def import_job_get(*, user: AnyUser, pk: UUID | str, write: bool = False) -> ImportJob:
    _member(user=user, write=write)
    return _one(ImportJob, pk)


def api_key_get(*, user: AnyUser, pk: int, write: bool = False) -> ApiKey:
    _member(user=user, write=write)
    return _one(ApiKey, pk)


def webhook_subscription_get(*, user: AnyUser, pk: int, write: bool = False) -> WebhookSubscription:
    _member(user=user, write=write)
    return _one(WebhookSubscription, pk)


def webhook_delivery_get(*, user: AnyUser, pk: int, write: bool = False) -> WebhookDelivery:
    _member(user=user, write=write)
    return _one(WebhookDelivery, pk)


def segment_get(*, user: AnyUser, pk: int, write: bool = False) -> Segment:
    _member(user=user, write=write)
    return _one(Segment, pk)


def segment_access(*, user: AnyUser, write: bool = False) -> None:
    """The user may read (or, `write`, change) this UDN's segments; else PermissionDenied."""
    _member(user=user, write=write)
