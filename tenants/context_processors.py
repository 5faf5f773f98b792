from __future__ import annotations

from django.http import HttpRequest

from tenants.selectors import udn_list_for_user


def udn_space(request: HttpRequest) -> dict[str, object]:
    """The current space (a UDN or the shared one), whether its pages are open to this person, and
    the UDNs they may open."""
    tenant = getattr(request, "tenant", None)
    user = getattr(request, "user", None)
    # Names and slugs are all the menus read: not each UDN's domains (one query less on every page).
    udns = (
        list(udn_list_for_user(user=user).prefetch_related(None))  # type: ignore[arg-type]
        if user is not None and user.is_authenticated
        else []
    )
    current = tenant if tenant is not None and not tenant.is_public else None
    return {
        "current_udn": current,
        "membership": getattr(request, "membership", None),
        # The UDNs this person may open (tenants.selectors.udn_list_for_user): the switcher and any
        # link into a UDN offer these only.
        "switcher_udns": udns,
        # Whether the menu may offer the current UDN's pages (not on the 403 of a UDN one may not open).
        "udn_open": current is not None and current in udns,
    }
