"""View decorators and loaders over the one door (`tenants.selectors.membership_for`). The loaders
of a UDN's own objects are in crm.access."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.http import Http404, HttpRequest, HttpResponse
from django_tenants.utils import get_public_schema_name

from tenants.models import UDN
from tenants.selectors import coordinator_check, membership_for, udn_list

View = Callable[..., HttpResponse]


def udn_write_required(view: View) -> View:
    """Only members who may change this UDN's data (marketers) get through; analysts get 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        membership_for(user=request.user, udn=request.tenant, write=True)  # type: ignore[arg-type,attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


def space_get(*, slug: str) -> UDN:
    """A space by the slug links carry (`shared` is the shared space), or Http404. Checks no
    membership: for the hand-off's way back to where the person came from."""
    try:
        if slug == "shared":
            return UDN.objects.get(schema_name=get_public_schema_name())
        return udn_list().get(slug=slug)
    except UDN.DoesNotExist:
        raise Http404 from None


def space_enter(*, user: AbstractBaseUser | AnonymousUser, slug: str) -> UDN:
    """The space `user` may go to: the shared space, or a UDN they are a member of
    (PermissionDenied otherwise; Http404 when there is no such space)."""
    space = space_get(slug=slug)
    if not space.is_public:
        membership_for(user=user, udn=space)  # type: ignore[arg-type]
    return space


def coordinator_required(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        coordinator_check(user=request.user)  # type: ignore[arg-type]
        return view(request, *args, **kwargs)

    return wrapper
