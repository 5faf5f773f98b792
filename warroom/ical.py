"""The per-user iCalendar feed (a secret URL to subscribe to from Google Calendar or Outlook)."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone
from icalendar import Calendar, Event

from warroom.access import Viewer
from warroom.selectors.calendar import calendar_entries

#: What the feed covers around today.
PAST_DAYS = 60
FUTURE_DAYS = 365


def feed_ics(*, viewer: Viewer, host: str, today: date | None = None) -> bytes:
    today = today or timezone.localdate()
    entries, _conflicts = calendar_entries(
        viewer=viewer, start=today - timedelta(days=PAST_DAYS), end=today + timedelta(days=FUTURE_DAYS)
    )
    calendar = Calendar()
    calendar.add("prodid", "-//UDN CRM//War Room//PT")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "UDN CRM")
    stamp = timezone.now()
    for entry in entries:
        event = Event()
        event.add("uid", f"{entry.key}@{host}")
        event.add("summary", entry.title)
        event.add("dtstart", entry.start)
        event.add("dtend", entry.end + timedelta(days=1))
        event.add("dtstamp", stamp)
        details = [f"{entry.kind} · {entry.status}"]
        if entry.channel:
            details.append(entry.channel)
        if entry.udn_names:
            details.append(entry.udn_names)
        details += entry.conflicts
        event.add("description", "\n".join(details))
        if entry.url:
            event.add("url", f"http://{host}{entry.url}")
        calendar.add_component(event)
    return calendar.to_ical()
