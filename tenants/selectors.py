"""Reads for UDNs and access. `membership_for` is the one door to a UDN's space."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Max, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name

from tenants.models import UDN, Membership, Role, User


def udn_list() -> QuerySet[UDN]:
    return UDN.objects.exclude(schema_name=get_public_schema_name()).prefetch_related("domains")


def udn_list_for_user(*, user: User) -> QuerySet[UDN]:
    """The UDNs whose pages `user` may open, by the rule `membership_for` applies: those they are a
    member of (superusers: all). Menus, the switcher and every link into a UDN offer these only;
    a coordinator sees every UDN's figures in the shared space but opens only these."""
    udns = udn_list()
    if not user.is_authenticated:
        return udns.none()
    if user.is_superuser:
        return udns
    return udns.filter(memberships__user=user)


def udn_enterable(*, user: User, udn: UDN) -> bool:
    """Whether `user` may open `udn`'s pages: what `membership_for` would let through, as a yes or
    no for a link or a redirect (`udn_list_for_user`'s rule, for one UDN)."""
    if not user.is_authenticated:
        return False
    return user.is_superuser or Membership.objects.filter(user=user, udn=udn).exists()


def membership_for(*, user: User, udn: UDN, write: bool = False) -> Membership:
    """The user's membership in `udn`, or PermissionDenied. Superusers act as marketers."""
    if not user.is_authenticated:
        raise PermissionDenied(_("Sign in first."))
    membership = Membership.objects.filter(user=user, udn=udn).select_related("udn").first()
    if membership is None:
        if not user.is_superuser:
            raise PermissionDenied(_("You are not a member of %(udn)s.") % {"udn": udn.name})
        membership = Membership(user=user, udn=udn, role=Role.MARKETER)
    if write and not membership.can_write:
        raise PermissionDenied(_("Your role in %(udn)s is read-only.") % {"udn": udn.name})
    return membership


def coordinator_check(*, user: User) -> None:
    if not (user.is_authenticated and (user.is_coordinator or user.is_superuser)):
        raise PermissionDenied(_("Only coordinators may use the shared space's planning tools."))


@dataclass(frozen=True)
class Heartbeat:
    at: datetime | None
    stale: bool


def heartbeat_of(*, udn: UDN) -> Heartbeat:
    """The UDN's latest tick, read fresh (request.tenant may come from the routing cache)."""
    at = UDN.objects.filter(pk=udn.pk).values_list("last_tick_at", flat=True).first()
    age = None if at is None else (timezone.now() - at).total_seconds()
    return Heartbeat(at=at, stale=age is None or age > settings.HEARTBEAT_STALE_SECONDS)


def heartbeat_age_seconds(*, udn: UDN | None = None) -> float | None:
    """Seconds since the newest worker tick (of `udn`, or of any UDN); None if none yet."""
    last = udn.last_tick_at if udn is not None else udn_list().aggregate(last=Max("last_tick_at"))["last"]
    if last is None:
        return None
    return (timezone.now() - last).total_seconds()
