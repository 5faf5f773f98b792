"""Issue 13, second round: live journeys on the calendar, the table's labels, the fatigue window
edited by coordinators, and the caches' invalidation when anything (inside a UDN schema too)
changes."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import time_machine
from django.utils import timezone
from django_tenants.utils import tenant_context

from warroom.access import viewer_for
from warroom.models import Activity, CalendarSettings
from warroom.selectors.calendar import Filters, calendar_entries, conflict_days
from warroom.tests.helpers import broadcast_in, joint, journey_in, udn_model

DAY = date(2026, 3, 10)
MONTH = (date(2026, 3, 1), date(2026, 4, 12))
EVENTS = "/warroom/calendar/events/?start=2026-03-01&end=2026-04-12"


def _at(day: date) -> datetime:
    return datetime.combine(day, time(9, 0), tzinfo=timezone.get_current_timezone())


def _entries(user, **filters):
    return calendar_entries(
        viewer=viewer_for(user=user), start=MONTH[0], end=MONTH[1], filters=Filters(**filters)
    )[0]


def test_live_journeys_are_read_only_entries_from_publication_open_ended(coordinator, udn_a):
    journey_in(udn_a, name="Boas-vindas", published=_at(DAY), channels=("whatsapp", "email"), enrolled=3)
    journey_in(udn_a, name="Nunca publicada", published=_at(DAY), status="draft")
    journey_in(udn_a, name="Antiga", published=_at(DAY - timedelta(days=90)), status="archived")
    # Archived long before the month (its last change): not on it.
    with tenant_context(udn_a):
        udn_model("campaigns.Journey").objects.filter(name="Antiga").update(
            updated_at=_at(DAY - timedelta(days=60))
        )
    by_title = {e.title: e for e in _entries(coordinator)}
    live = by_title["Boas-vindas · UDN Alpha"]
    assert (live.kind, live.channel, live.start, live.audience, live.status, live.editable) == (
        "journey",
        "whatsapp",
        DAY,
        3,
        "live",
        False,
    )
    assert live.open_ended and live.end >= MONTH[1] - timedelta(days=1)
    assert "Nunca publicada · UDN Alpha" not in by_title and "Antiga · UDN Alpha" not in by_title
    assert [e.title for e in _entries(coordinator, kinds=frozenset({"journey"}))] == [
        "Boas-vindas · UDN Alpha"
    ]


def test_an_archived_journey_ends_the_day_it_was_archived(coordinator, udn_a):
    journey_id = journey_in(udn_a, name="Cashback", published=_at(DAY), enrolled=2)
    with tenant_context(udn_a):
        from django.utils.module_loading import import_string

        archive = import_string("campaigns.services.journeys.journey_archive")
        journey = udn_model("campaigns.Journey").objects.get(pk=journey_id)
        with time_machine.travel(_at(DAY + timedelta(days=5)), tick=False):
            archive(journey=journey)
    (entry,) = [e for e in _entries(coordinator) if e.kind == "journey"]
    assert (entry.start, entry.end, entry.open_ended, entry.status, entry.audience) == (
        DAY,
        DAY + timedelta(days=5),
        False,
        "archived",
        0,
    )


def test_journeys_show_in_the_views_with_their_own_kind_and_filter(coordinator, udn_a, client_for):
    journey_in(udn_a, name="Reativação", published=_at(DAY), enrolled=1)
    broadcast_in(udn_a, name="Disparo", day=DAY)
    client = client_for(user=coordinator)
    (event,) = client.get(EVENTS + "&kind=journey").json()["events"]
    assert event["title"] == "Reativação · UDN Alpha" and "cal-journey" in event["classNames"]
    assert event["kind"] == "journey" and event["editable"] is False
    page = client.get("/warroom/calendar/?month=2026-03").content.decode()
    assert '<option value="journey"' in page and "Jornada de UDN" in page


def test_the_table_shows_kinds_statuses_and_channels_in_portuguese(coordinator, udn_a, udn_b, client_for):
    broadcast_in(udn_a, name="Disparo alpha", day=DAY, channel="sms")
    journey_in(udn_a, name="Jornada alpha", published=_at(DAY))
    joint(by=coordinator, name="Cross rascunho", promoting=udn_b, sources=[udn_a], start=DAY)
    page = client_for(user=coordinator).get("/warroom/calendar/?month=2026-03&view=list").content.decode()
    kinds = set(_cells(page, "row-kind"))
    statuses = set(_cells(page, "row-status"))
    assert {"Campanha de UDN", "Jornada de UDN", "Campanha de venda cruzada"} <= kinds
    assert {"Agendada", "Em vigor", "Rascunho"} <= statuses, statuses
    for code in ("broadcast", "journey", "cross_sell", "scheduled", "live", "draft"):
        assert code not in kinds | statuses


def _cells(page: str, testid: str) -> list[str]:
    import re

    return re.findall(rf'data-testid="{testid}">([^<]*)<', page)


def test_coordinators_edit_the_fatigue_window_in_the_page(coordinator, udn_a, udn_b, client_for, settings):
    settings.WARROOM_CONFLICT_DAYS = 3
    broadcast_in(udn_a, name="Primeira", day=DAY)
    joint(
        by=coordinator,
        name="Quatro dias depois",
        promoting=udn_b,
        sources=[udn_a],
        start=DAY + timedelta(days=4),
    )
    client = client_for(user=coordinator)
    page = client.get("/warroom/calendar/?month=2026-03").content.decode()
    assert 'data-testid="calendar-settings"' in page and 'value="3"' in page
    assert client.get(EVENTS).json()["conflicts"] == 0
    response = client.post("/warroom/calendar/settings/", {"conflict_days": "5"})
    assert response.status_code == 302
    assert conflict_days() == 5 and CalendarSettings.objects.get().updated_by == coordinator
    # The cached month is stale the moment N changes.
    assert client.get(EVENTS).json()["conflicts"] == 1
    assert Activity.objects.get(code="conflict_days_set").text == "definiu a janela de fadiga em 5 dias"
    assert client.post("/warroom/calendar/settings/", {"conflict_days": "99"}).status_code == 302
    assert conflict_days() == 5  # refused: at most 60


def test_only_coordinators_may_change_the_fatigue_window(marketer, analyst, outsider, client_for, settings):
    settings.WARROOM_CONFLICT_DAYS = 3
    for user in (marketer, analyst, outsider, None):
        client = client_for(user=user) if user else client_for()
        response = client.post("/warroom/calendar/settings/", {"conflict_days": "9"})
        assert response.status_code in (302, 403)
        if user is not None:
            assert response.status_code == 403
    assert not CalendarSettings.objects.exists() and conflict_days() == 3
    page = client_for(user=marketer).get("/warroom/calendar/?month=2026-03").content.decode()
    assert 'data-testid="calendar-settings"' not in page


def test_a_change_inside_a_udn_schema_refreshes_the_cached_month(coordinator, udn_a, client_for):
    client = client_for(user=coordinator)
    broadcast_in(udn_a, name="Antes", day=DAY)
    assert "Antes · UDN Alpha" in {e["title"] for e in client.get(EVENTS).json()["events"]}
    # Cached now: a second view computes nothing.
    with tenant_context(udn_a):
        udn_model("campaigns.Campaign").objects.filter(name="Antes").update(name="Renomeada sem sinal")
    assert "Antes · UDN Alpha" in {e["title"] for e in client.get(EVENTS).json()["events"]}
    # A save (the campaigns app's services save) bumps the version through the signal.
    broadcast_in(udn_a, name="Depois", day=DAY)
    titles = {e["title"] for e in client.get(EVENTS).json()["events"]}
    assert {"Renomeada sem sinal · UDN Alpha", "Depois · UDN Alpha"} <= titles
    # A board change (public schema) too.
    joint(by=coordinator, name="Cross novo", promoting=udn_a, sources=[udn_a], start=DAY)
    assert "Cross novo" in {e["title"] for e in client.get(EVENTS).json()["events"]}


def test_the_warm_month_reads_the_cache_without_per_udn_queries(
    coordinator, udn_a, udn_b, client_for, django_assert_max_num_queries
):
    broadcast_in(udn_a, name="A", day=DAY)
    broadcast_in(udn_b, name="B", day=DAY)
    client = client_for(user=coordinator)
    client.get(EVENTS)
    client.get("/warroom/calendar/?month=2026-03")
    # Session, user, memberships (the shell: its feed row, the UDN filter, the menu): no UDN schema.
    with django_assert_max_num_queries(3):
        assert len(client.get(EVENTS).json()["events"]) == 2
    with django_assert_max_num_queries(7):  # the base template's menu adds two
        client.get("/warroom/calendar/?month=2026-03")
