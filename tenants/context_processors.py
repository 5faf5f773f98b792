from __future__ import annotations

from django.http import HttpRequest

from tenants.selectors import udn_list_for_user


def udn_space(request: HttpRequest) -> dict[str, object]:
    """The current space (a UDN or the shared one) and the UDNs for the switcher."""
    tenant = getattr(request, "tenant", None)
    user = getattr(request, "user", None)
    udns = list(udn_list_for_user(user=user)) if user is not None and user.is_authenticated else []  # type: ignore[arg-type]
    return {
        "current_udn": tenant if tenant is not None and not tenant.is_public else None,
        "membership": getattr(request, "membership", None),
        "switcher_udns": udns,
    }
