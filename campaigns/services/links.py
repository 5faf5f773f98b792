"""Click tracking: the links of a message are rewritten to `/r/<token>/` on the UDN's host, where the
token is signed (django.core.signing, a salt of this UDN's own) and carries the message id and the
URL. A click records `clicked` on the message (campaigns.services.statuses) and redirects to the
URL that was signed, never to one the request names: an unsigned or altered token is refused,
so the redirect cannot be used to send people elsewhere.

The renderer (campaigns.templating) calls `links_wrap` on a message's text or HTML once the
message has its id; links to the UDN's own host (the unsubscribe link) are left as they are.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from campaigns.models import MessageStatus
from campaigns.services.statuses import StatusUpdate, message_statuses_apply

SALT = "campaigns.links"
URL_MAX = 2000
# A URL in text or in an HTML attribute: up to a space, a quote or an angle bracket; trailing
# punctuation of the sentence around it is not part of it.
_URL = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:!?)]}"


class LinkInvalid(ValueError):
    """The token was not made here (altered, from another UDN, or not a token at all)."""


@dataclass(frozen=True, slots=True)
class Link:
    message_id: int
    url: str


def _salt() -> str:
    # The schema in the salt: a token of one UDN means nothing on another's host.
    return f"{SALT}:{getattr(connection, 'schema_name', '')}"


def _trackable(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and len(url) <= URL_MAX


def link_base_url() -> str:
    """This UDN's address as people reach it (https in production; http and the dev port when
    DEBUG is on)."""
    domain = connection.tenant.get_primary_domain()  # type: ignore[attr-defined]
    host = domain.domain if domain is not None else settings.BASE_DOMAIN
    if settings.DEBUG:
        return f"http://{host}:{settings.DEV_PORT}"
    return f"https://{host}"


def link_token(*, message_id: int, url: str) -> str:
    if not _trackable(url):
        raise ValueError(f"not a trackable URL: {url[:100]!r}")
    return signing.dumps({"m": message_id, "u": url}, salt=_salt(), compress=True)


def link_url(*, message_id: int, url: str, base_url: str) -> str:
    """The tracked address of `url` in message `message_id`."""
    path = reverse("message-link-click", kwargs={"token": link_token(message_id=message_id, url=url)})
    return f"{base_url.rstrip('/')}{path}"


def links_wrap(*, text: str, message_id: int, base_url: str | None = None, is_html: bool = False) -> str:
    """`text` with every http(s) link replaced by its tracked address; links to `base_url`
    (the UDN's own pages: unsubscribe, an earlier wrapped link) stay as they are. In HTML the
    link's entities (&amp;) are read as the browser reads them."""
    base = base_url or link_base_url()
    own_host = urlsplit(base).netloc

    def replace(match: re.Match[str]) -> str:
        found = match.group(0)
        url = found.rstrip(_TRAILING)
        tail = found[len(url) :]
        target = html.unescape(url) if is_html else url
        if urlsplit(target).netloc == own_host or not _trackable(target):
            return found
        return link_url(message_id=message_id, url=target, base_url=base) + tail

    return _URL.sub(replace, text)


def link_resolve(*, token: str) -> Link:
    """The message and URL a token carries; LinkInvalid when it was not signed here."""
    try:
        data = signing.loads(token, salt=_salt())
    except signing.BadSignature as error:
        raise LinkInvalid(str(error)) from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("m"), int)
        or not isinstance(data.get("u"), str)
        or not _trackable(data["u"])
    ):
        raise LinkInvalid("malformed token")
    return Link(message_id=data["m"], url=data["u"])


def link_click(*, token: str) -> str:
    """Record a click of a tracked link (`clicked` on its message, once) and return where to go."""
    link = link_resolve(token=token)
    message_statuses_apply(
        updates=[
            StatusUpdate(
                status=MessageStatus.CLICKED,
                at=timezone.now(),
                message_id=link.message_id,
                detail={"url": link.url},
            )
        ]
    )
    return link.url
