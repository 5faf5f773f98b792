from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

from tenants.models import UDN


def space_url(request: HttpRequest, tenant: UDN, path: str = "/") -> str:
    """Absolute URL of `path` on `tenant`'s primary host, keeping this request's scheme and port."""
    domain = tenant.get_primary_domain()
    host = domain.domain if domain is not None else request.get_host().split(":")[0]
    port = request.get_port()
    default_port = "443" if request.is_secure() else "80"
    netloc = host if port in ("", default_port) else f"{host}:{port}"
    return f"{request.scheme}://{netloc}{path}"


def shared_space_netloc(request: HttpRequest) -> str:
    """The shared space's canonical host (BASE_DOMAIN) with this server's port when it is not the
    scheme's default. The port comes from the server (SERVER_PORT), never from the Host header."""
    port = request.get_port()
    default_port = "443" if request.is_secure() else "80"
    return settings.BASE_DOMAIN if port in ("", default_port) else f"{settings.BASE_DOMAIN}:{port}"


def local_path(target: str, fallback: str = "/") -> str:
    """`target` when it is a path on whatever host serves it (no scheme, no host, nothing a browser
    reads as another site: `//host`, `/\\host`, a tab after the slash), else `fallback`. For addresses chosen
    where no request is at hand (the sign-in hand-off's next); `next_url` is the one for requests."""
    if target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts=None):
        return target
    return fallback


def next_url(request: HttpRequest, fallback: str, *, field: str = "next") -> str:
    """Where the request asks to go next (`field` in the POST, else the query string) when that is
    an address on this host (a path, or this host under this request's scheme); otherwise
    `fallback`. Every redirect to an address the browser sent goes through here: a bare
    `redirect(request.POST["next"])` sends people to any site a crafted form names (open redirect)."""
    target = request.POST.get(field) or request.GET.get(field) or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback
