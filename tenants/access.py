"""View decorators over the one door (`tenants.selectors.membership_for`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse

from tenants.selectors import coordinator_check, membership_for

View = Callable[..., HttpResponse]


def udn_write_required(view: View) -> View:
    """Only members who may change this UDN's data (marketers) get through; analysts get 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        membership_for(user=request.user, udn=request.tenant, write=True)  # type: ignore[arg-type,attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


def coordinator_required(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        coordinator_check(user=request.user)  # type: ignore[arg-type]
        return view(request, *args, **kwargs)

    return wrapper
