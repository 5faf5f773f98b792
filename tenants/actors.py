"""Who is acting: one context variable, set where a piece of work starts, read where it writes.

A signed-in request sets the person (ActorMiddleware), the partner API sets its key (its
authentication class), a management command sets itself (UDNCommand), a worker sets the actor
its task was queued by; anything else acts as the system. Services read `audit_actor()` and
record it in their UDN's audit log, so no call threads a "who" parameter through.

It lives in the tenancy app because people (users) do, and the command base and the middleware
here set it; the audit log itself is each UDN's (crm.models.AuditEntry)."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse

USER = "user"
API_KEY = "api_key"
SYSTEM = "system"
IMPORT = "import"
ACTOR_KINDS = (USER, API_KEY, SYSTEM, IMPORT)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: a kind (user, api_key, system, import), an id in its own table (users live in
    the public schema, keys in the UDN's: text either way), a label people read (an e-mail, a
    key's name, a command) and the address a request came from."""

    kind: str
    id: str = ""
    label: str = ""
    ip: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """For a task's arguments (JSON): the worker restores it with `Actor.from_dict`."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Actor | None:
        if not data or data.get("kind") not in ACTOR_KINDS:
            return None
        return cls(
            kind=str(data["kind"]),
            id=str(data.get("id") or ""),
            label=str(data.get("label") or ""),
            ip=data.get("ip") or None,
        )


SYSTEM_ACTOR = Actor(kind=SYSTEM, label="system")

_actor: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("udn_actor", default=None)


def audit_actor() -> Actor:
    """The actor of the work under way (the system when nothing set one)."""
    return _actor.get() or SYSTEM_ACTOR


def actor_set(actor: Actor | None) -> contextvars.Token[Actor | None]:
    """Set the actor until the token is reset (the code that set it resets it)."""
    return _actor.set(actor)


def actor_reset(token: contextvars.Token[Actor | None]) -> None:
    _actor.reset(token)


@contextmanager
def actor_bound(actor: Actor | None) -> Iterator[Actor | None]:
    """`with actor_bound(actor):` the work inside acts as `actor` (None: as whoever is set)."""
    if actor is None:
        yield None
        return
    token = _actor.set(actor)
    try:
        yield actor
    finally:
        _actor.reset(token)


def request_address(request: HttpRequest) -> str | None:
    """The address a request came from, as the WSGI server saw it (REMOTE_ADDR; see
    tenants.throttle.client_address on why X-Forwarded-For is not read)."""
    return request.META.get("REMOTE_ADDR") or None


def user_actor(user: Any, *, ip: str | None = None) -> Actor:
    return Actor(kind=USER, id=str(user.pk), label=user.get_username(), ip=ip)


class ActorMiddleware:
    """A signed-in person is the actor of their request. Whatever is set during the request (the
    API's key, set by its authentication) is undone when it ends: a thread serves the next
    request with no actor left over."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        actor = None
        if user is not None and user.is_authenticated:
            actor = user_actor(user, ip=request_address(request))
        token = _actor.set(actor)
        try:
            return self.get_response(request)
        finally:
            _actor.reset(token)
