"""The calendar's events JSON carries only what FullCalendar draws (the conflicts' count, not their
texts), gzipped for browsers; an entry's details and every conflict it raises come on demand
(its popover)."""

from __future__ import annotations

import gzip
import json
from datetime import date, timedelta

from warroom.selectors.calendar import SHOWN_PER_ENTRY
from warroom.tests.helpers import broadcast_in, joint

DAY = date(2026, 3, 10)
WINDOW = "start=2026-03-01&end=2026-04-12"
EVENTS = f"/warroom/calendar/events/?{WINDOW}"


def _entry_url(key: str, query: str = WINDOW) -> str:
    return f"/warroom/calendar/entries/{key}/?{query}"


def test_events_carry_the_conflicts_count_and_no_texts(coordinator, udn_a, udn_b, client_for):
    # One joint campaign on UDN A's e-mail base with five broadcasts there within three days:
    # five fatigue conflicts, more than an event used to carry the texts of.
    for n in range(5):
        broadcast_in(udn_a, name=f"Disparo {n}", day=DAY + timedelta(days=n % 2))
    campaign = joint(by=coordinator, name="Cross fadiga", promoting=udn_b, sources=[udn_a], start=DAY)
    body = client_for(user=coordinator).get(EVENTS).content.decode()
    events = {e["id"]: e for e in json.loads(body)["events"]}
    event = events[f"joint-{campaign.pk}"]
    assert event["conflicts"] == 5 > SHOWN_PER_ENTRY
    assert event["kind"] == "cross_sell" and event["editable"] is True
    assert event["classNames"] == "cal-cross_sell cal-conflict"
    assert set(event) <= {"id", "title", "start", "end", "classNames", "editable", "kind", "conflicts"}
    assert "atingem a base" not in body and "extendedProps" not in body  # no conflict text at all
    # One-day entries leave the end out (FullCalendar's all-day default is one day).
    broadcast = next(e for e in events.values() if e["title"] == "Disparo 0 · UDN Alpha")
    assert "end" not in broadcast and broadcast["start"] == DAY.isoformat()


def test_events_are_gzipped_for_browsers_that_accept_it(coordinator, udn_a, client_for):
    broadcast_in(udn_a, name="Disparo", day=DAY)
    client = client_for(user=coordinator)
    plain = client.get(EVENTS)
    assert "Content-Encoding" not in plain and "Accept-Encoding" in plain["Vary"]
    zipped = client.get(EVENTS, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert zipped["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped["Vary"]
    assert gzip.decompress(zipped.content) == plain.content
    assert [e["title"] for e in plain.json()["events"]] == ["Disparo · UDN Alpha"]


def test_an_entrys_popover_lists_every_conflict_it_raises(coordinator, udn_a, udn_b, client_for):
    for n in range(5):
        broadcast_in(udn_a, name=f"Disparo {n}", day=DAY + timedelta(days=n % 2))
    campaign = joint(by=coordinator, name="Cross fadiga", promoting=udn_b, sources=[udn_a], start=DAY)
    client = client_for(user=coordinator)
    key = f"joint-{campaign.pk}"
    response = client.get(_entry_url(key, WINDOW + "&next=/warroom/calendar/%3Fmonth%3D2026-03"))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('data-testid="entry-conflict"') == 5
    for n in range(5):
        assert (
            f"“Disparo {n} · UDN Alpha” e “Cross fadiga”" in html or f"“Cross fadiga” e “Disparo {n}" in html
        )
    assert 'data-testid="entry-conflict-count">5<' in html
    # An editable entry: the keyboard's reschedule, back to the calendar it was opened from.
    assert 'data-testid="move-later"' in html and f'name="key" value="{key}"' in html
    assert 'name="next" value="/warroom/calendar/?month=2026-03"' in html
    assert f'href="/warroom/campaigns/{campaign.pk}/"' in html
    # A UDN's broadcast: read-only, its own conflicts.
    broadcast = next(e for e in client.get(EVENTS).json()["events"] if e["title"] == "Disparo 0 · UDN Alpha")
    html = client.get(_entry_url(broadcast["id"])).content.decode()
    assert html.count('data-testid="entry-conflict"') == broadcast["conflicts"] > 0
    assert 'data-testid="move-form"' not in html


def test_an_entry_without_conflicts_says_so_and_a_foreign_next_is_dropped(coordinator, udn_a, client_for):
    broadcast_in(udn_a, name="Sozinho", day=DAY)
    client = client_for(user=coordinator)
    (event,) = client.get(EVENTS).json()["events"]
    html = client.get(_entry_url(event["id"], WINDOW + "&next=https://evil.example/")).content.decode()
    assert 'data-testid="entry-no-conflicts"' in html and "Nenhum conflito nesta entrada." in html
    assert "evil.example" not in html


def test_an_entry_outside_the_viewers_calendar_is_not_found(marketer, coordinator, udn_a, udn_b, client_for):
    broadcast_in(udn_b, name="Só da beta", day=DAY)
    (event,) = client_for(user=coordinator).get(EVENTS).json()["events"]
    # A marketer of UDN A sees no entry of UDN B, by the calendar or by its address.
    assert client_for(user=marketer).get(_entry_url(event["id"])).status_code == 404
    assert client_for(user=coordinator).get(_entry_url("joint-999999")).status_code == 404
    assert client_for().get(_entry_url(event["id"])).status_code == 302  # signed out: to sign in


def test_an_entrys_details_are_read_from_the_cache_after_the_first(
    coordinator, udn_a, udn_b, client_for, django_assert_max_num_queries
):
    broadcast_in(udn_a, name="A", day=DAY)
    broadcast_in(udn_b, name="B", day=DAY)
    client = client_for(user=coordinator)
    events = client.get(EVENTS).json()["events"]
    client.get(_entry_url(events[0]["id"]))
    # Session, user, memberships, and the UDNs the templates' context processor lists: no UDN
    # schema, no joint campaign, no deadline read again.
    with django_assert_max_num_queries(4):
        assert client.get(_entry_url(events[1]["id"])).status_code == 200
