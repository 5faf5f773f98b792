"""Outbound HTTP: the one way this project calls a URL someone else chose (webhook deliveries
now; channel providers and journey webhook steps use it too).

A URL is parsed once, strictly (no user@, no backslash, no control characters or spaces, http
or https only, a plain host name or IP address); its host is resolved once; the addresses are
checked (where private addresses are refused: loopback, private networks, link-local and cloud
metadata, multicast, reserved and unspecified ranges, and IPv6 forms that embed such an IPv4);
and the connection goes to the checked address itself, with the URL's host in the Host header,
the TLS SNI and the certificate check. So no other parser (requests and urllib3 read
`http://127.0.0.1:1\\@1.1.1.1/` as 127.0.0.1, urlsplit as 1.1.1.1), resolver or DNS answer
given later can send the request anywhere but where it was checked to go.

Redirects are never followed, the whole exchange has a deadline, and at most `max_body_bytes`
of the answer are read (the rest is never downloaded).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import certifi
from django.utils.translation import gettext as _
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, Timeout
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Where private addresses are refused, ports below 1024 other than HTTP's and HTTPS's are too:
# a POST to a public SMTP (25), SSH (22) or similar service is a cross-protocol attack, never a
# webhook receiver.
PUBLIC_LOW_PORTS = frozenset({80, 443})
# A host is a DNS name of letters, digits, '-' and '_' (as IDNA gives it), or an IP literal.
_HOST_NAME = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Characters kept as they are in the path and query; anything else (non-ASCII) is %-encoded.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~?"


class OutboundError(Exception):
    """The request was not made, or did not complete; `str()` says why, for a log."""


class OutboundRefused(OutboundError):
    """The URL may not be called (malformed, or its host is private where that is refused).
    The message is translated (it is shown to whoever typed the URL)."""


class OutboundFailed(OutboundError):
    """The request was made but failed: `kind` is "Timeout" or "ConnectionError"."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}"[:1000])
        self.kind = kind


@dataclass(frozen=True)
class OutboundTarget:
    """A checked URL: where to connect (`address`, `port`) and what to tell the server."""

    scheme: str
    host: str  # as the server must see it (Host header, SNI): IDNA, lower case, no brackets
    port: int
    host_header: str
    target: str  # path and query
    address: str  # the checked IP address the connection goes to


@dataclass(frozen=True)
class OutboundResponse:
    status: int
    head: bytes  # the first bytes of the body, at most the max_body_bytes asked for
    address: str


def address_is_public(address: IPAddress) -> bool:
    """Whether `address` is on the public internet: not loopback, private, link-local (cloud
    metadata), multicast, reserved or unspecified; for IPv6 forms that carry an IPv4 address
    (mapped, 6to4, Teredo, NAT64), the IPv4 one must be public too. ipaddress's `is_global`
    alone is not enough (it calls multicast and 6to4 of loopback global on Python 3.11)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded: ipaddress.IPv4Address | None = address.ipv4_mapped or address.sixtofour
        if address.teredo:
            embedded = address.teredo[1]
        if address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not address_is_public(embedded):
            return False
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


def _parse(url: str, *, allow_private: bool) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, Host header, target) of `url`, or OutboundRefused."""
    if "\\" in url or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise OutboundRefused(_("The URL must not contain spaces, backslashes or control characters."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise OutboundRefused(_("The URL is not valid.")) from None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise OutboundRefused(_("The URL must start with http:// or https://."))
    if "@" in parts.netloc:
        raise OutboundRefused(_("The URL must not contain a user name or password (“user@”)."))
    raw_host = parts.hostname or ""
    if not raw_host:
        raise OutboundRefused(_("The URL has no host."))
    try:
        literal: IPAddress | None = ipaddress.ip_address(raw_host)
    except ValueError:
        literal = None
    if literal is not None:
        host = str(literal)
    else:
        try:
            host = raw_host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            host = ""
        if not _HOST_NAME.match(host):
            raise OutboundRefused(_("The host “%(host)s” is not a valid name.") % {"host": raw_host})
    if port is None:
        port = 443 if scheme == "https" else 80
    elif port == 0:
        raise OutboundRefused(_("The port is not valid."))
    elif not allow_private and port < 1024 and port not in PUBLIC_LOW_PORTS:
        raise OutboundRefused(
            _("Port %(port)s is not allowed; use 80, 443 or a port from 1024 up.") % {"port": port}
        )
    bracketed = f"[{host}]" if isinstance(literal, ipaddress.IPv6Address) else host
    host_header = bracketed if parts.port is None else f"{bracketed}:{port}"
    target = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        target += "?" + quote(parts.query, safe=_PATH_SAFE)
    return scheme, host, port, host_header, target


def outbound_check(*, url: str, allow_private: bool) -> OutboundTarget:
    """Parse `url` and resolve its host, once; raise OutboundRefused if it may not be called.

    Every address the host resolves to must be public (unless `allow_private`): a name with one
    private address among public ones is refused, not tried on a lucky one."""
    scheme, host, port, host_header, target = _parse(url, allow_private=allow_private)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise OutboundRefused(_("The host %(host)s does not resolve.") % {"host": host}) from None
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise OutboundRefused(_("The host %(host)s does not resolve.") % {"host": host})
    if not allow_private:
        for address in addresses:
            if "%" in address or not address_is_public(ipaddress.ip_address(address)):
                raise OutboundRefused(
                    _(
                        "%(host)s is a private or local address (%(address)s); "
                        "deliveries only go to public addresses."
                    )
                    % {"host": host, "address": address}
                )
    return OutboundTarget(
        scheme=scheme, host=host, port=port, host_header=host_header, target=target, address=addresses[0]
    )


def outbound_url_refusal(*, url: str, allow_private: bool) -> str | None:
    """Why `url` may not be called, or None: for checking a URL when someone gives it (a
    webhook subscription). Its form always; where private addresses are refused, also where its
    host resolves now. outbound_request checks again each time (DNS changes)."""
    try:
        if allow_private:
            _parse(url, allow_private=True)
        else:
            outbound_check(url=url, allow_private=False)
    except OutboundRefused as error:
        return str(error)
    return None


def outbound_request(
    *,
    method: str,
    url: str,
    body: bytes | None,
    headers: Mapping[str, str],
    timeout: float,
    max_body_bytes: int,
    allow_private: bool,
    ca_certs: str | None = None,
) -> OutboundResponse:
    """Make one HTTP request to `url` through the checks above; no redirect is followed (a 3xx
    is returned as it is). `timeout` bounds the whole exchange, connecting to the last byte
    read. HTTPS certificates are checked against `ca_certs` (a PEM bundle; certifi's by
    default). Raises OutboundRefused (nothing was sent) or OutboundFailed."""
    checked = outbound_check(url=url, allow_private=allow_private)
    deadline = time.monotonic() + timeout
    pool: HTTPConnectionPool
    if checked.scheme == "https":
        pool = HTTPSConnectionPool(
            host=checked.address,
            port=checked.port,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_certs or certifi.where(),
            server_hostname=checked.host,  # SNI and the certificate's name: the URL's host
        )
    else:
        pool = HTTPConnectionPool(host=checked.address, port=checked.port, retries=False)
    # Identity encoding: what is read is what is kept (no decompression of a hostile body).
    sent = {**headers, "Host": checked.host_header, "Accept-Encoding": "identity"}
    try:
        response = pool.urlopen(
            method,
            checked.target,
            body=body,
            headers=sent,
            redirect=False,
            retries=False,
            assert_same_host=False,
            preload_content=False,
            release_conn=False,
            timeout=Timeout(connect=timeout, read=timeout, total=timeout),
        )
        try:
            head = b""
            while len(head) < max_body_bytes:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise OutboundFailed(
                        "Timeout", _("The answer took longer than %(s)s s.") % {"s": timeout}
                    )
                sock = getattr(response.connection, "sock", None)
                if sock is not None:
                    sock.settimeout(remaining)
                chunk = response.read1(max_body_bytes - len(head), decode_content=False)
                if not chunk:
                    break
                head += chunk
            return OutboundResponse(status=response.status, head=head, address=checked.address)
        finally:
            response.close()
    except OutboundError:
        raise
    except NewConnectionError as error:
        raise OutboundFailed("ConnectionError", str(error)) from None
    except (Urllib3Timeout, TimeoutError) as error:
        raise OutboundFailed("Timeout", str(error)) from None
    except (Urllib3Error, OSError) as error:
        raise OutboundFailed("ConnectionError", f"{type(error).__name__}: {error}") from None
    finally:
        pool.close()
