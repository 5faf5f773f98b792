"""Who uses a segment, asked of the apps built on the core without the core knowing them (as
crm.hooks and crm.panels): before a segment is deleted, every registered provider lists what of
its own names it (a journey's trigger or branch, a broadcast's audience, a loyalty rule), and
the deletion is refused while anything does. The core answers for segments that name it ("in
segment X") itself.

    # campaigns/apps.py, in ready()
    from crm.segment_uses import segment_uses_register
    from campaigns.selectors.segment_uses import journeys_using_segment
    segment_uses_register(name="journeys", provider=journeys_using_segment)

A provider is called as `provider(segment_id=...)` inside the UDN's schema and returns a list of
`SegmentUse` (empty: it does not use it). Keep it to a query or two: it runs on every delete."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from django.utils.text import capfirst

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


@dataclass(frozen=True)
class SegmentUse:
    """One thing that names the segment: what kind of thing (through gettext, e.g. "jornada"),
    its name, and where in it (e.g. "gatilho"; blank when the kind says it all)."""

    kind: StrOrPromise
    name: str
    detail: StrOrPromise = ""

    def __str__(self) -> str:
        text = f"{capfirst(str(self.kind))} “{self.name}”"
        return f"{text} ({self.detail})" if self.detail else text


class SegmentUsesProvider(Protocol):
    def __call__(self, *, segment_id: int) -> list[SegmentUse]: ...


_PROVIDERS: dict[str, SegmentUsesProvider] = {}


def segment_uses_register(*, name: str, provider: SegmentUsesProvider) -> None:
    """Add (or replace, by name) a provider of "who uses segment X"."""
    _PROVIDERS[name] = provider


def segment_uses_unregister(*, name: str) -> None:
    _PROVIDERS.pop(name, None)


def segment_uses_registered() -> list[SegmentUsesProvider]:
    """The registered providers, in registration order."""
    return list(_PROVIDERS.values())
