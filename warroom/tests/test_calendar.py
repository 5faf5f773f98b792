"""The shared calendar: entries gathered from the UDN schemas as aggregates, conflict warnings
(fatigue within N days, a UDN's frequency caps, the cross-UDN contact budget) on the entry, in the
list and before saving, filters, moves, and the iCalendar feed parsed back."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django_tenants.utils import tenant_context
from icalendar import Calendar

from warroom.access import viewer_for
from warroom.models import CalendarFeed, JointCampaign
from warroom.selectors.calendar import Filters, calendar_entries
from warroom.tests.helpers import broadcast_in, joint, udn_model

DAY = date(2026, 3, 10)
MONTH = (date(2026, 3, 1), date(2026, 4, 12))


def _entries(user, **filters):
    return calendar_entries(
        viewer=viewer_for(user=user), start=MONTH[0], end=MONTH[1], filters=Filters(**filters)
    )


def test_udn_broadcasts_come_as_aggregates_with_joint_campaigns(coordinator, udn_a, udn_b):
    broadcast_in(udn_a, name="Boas-vindas alpha", day=DAY, audience=321)
    joint(
        by=coordinator,
        name="Cross beta→alpha",
        promoting=udn_b,
        sources=[udn_a],
        start=DAY + timedelta(days=10),
    )
    entries, _ = _entries(coordinator)
    by_title = {e.title: e for e in entries}
    alpha = by_title["Boas-vindas alpha · UDN Alpha"]
    assert (alpha.kind, alpha.channel, alpha.start, alpha.audience, alpha.editable) == (
        "broadcast",
        "email",
        DAY,
        321,
        False,
    )
    assert by_title["Cross beta→alpha"].kind == "cross_sell"
    assert set(alpha.as_event()) >= {"id", "title", "start", "kind", "conflicts"}
    assert "cpf" not in str(alpha.as_event()).lower()


def test_two_campaigns_on_one_base_and_channel_within_n_days_conflict(coordinator, udn_a, udn_b, settings):
    settings.WARROOM_CONFLICT_DAYS = 3
    broadcast_in(udn_a, name="Cashback alpha", day=DAY)
    joint(
        by=coordinator,
        name="Cross dois dias depois",
        promoting=udn_b,
        sources=[udn_a],
        start=DAY + timedelta(days=2),
    )
    joint(by=coordinator, name="Cross longe", promoting=udn_b, sources=[udn_a], start=DAY + timedelta(days=9))
    joint(
        by=coordinator, name="Cross outro canal", promoting=udn_b, sources=[udn_a], start=DAY, channel="sms"
    )
    entries, conflicts = _entries(coordinator)
    fatigue = [c for c in conflicts if c.kind == "fatigue"]
    assert len(fatigue) == 1
    by_title = {e.title: e for e in entries}
    assert by_title["Cross dois dias depois"].conflicts and by_title["Cashback alpha · UDN Alpha"].conflicts
    assert not by_title["Cross longe"].conflicts and not by_title["Cross outro canal"].conflicts
    settings.WARROOM_CONFLICT_DAYS = 2  # N is configurable: two days apart is now fine
    _entries_2, conflicts_2 = _entries(coordinator)
    assert not [c for c in conflicts_2 if c.kind == "fatigue"]


def test_a_plan_over_a_udns_frequency_cap_warns(coordinator, udn_a, udn_b, settings):
    settings.WARROOM_CONFLICT_DAYS = 0  # only the cap speaks
    with tenant_context(udn_a):
        udn_model("campaigns.FrequencyCap").objects.create(channel="email", period="week", limit=2)
    broadcast_in(udn_a, name="Um", day=DAY)
    broadcast_in(udn_a, name="Dois", day=DAY + timedelta(days=2))
    _entries_0, conflicts = _entries(coordinator)
    assert not [c for c in conflicts if c.kind == "cap"]
    joint(by=coordinator, name="Três", promoting=udn_b, sources=[udn_a], start=DAY + timedelta(days=4))
    _entries_1, conflicts = _entries(coordinator)
    caps = [c for c in conflicts if c.kind == "cap"]
    assert len(caps) == 1 and "joint-" in " ".join(caps[0].keys)


def test_a_plan_over_the_cross_udn_contact_budget_warns(coordinator, udn_a, udn_b, settings):
    from campaigns.pressure.models import PressureBudget

    settings.WARROOM_CONFLICT_DAYS = 0
    PressureBudget.objects.create(channel="whatsapp", per_day=1, per_week=5)
    broadcast_in(udn_a, name="Zap alpha", day=DAY, channel="whatsapp")
    broadcast_in(udn_b, name="Zap beta", day=DAY, channel="whatsapp")
    _entries_0, conflicts = _entries(coordinator)
    pressure = [c for c in conflicts if c.kind == "pressure"]
    assert len(pressure) == 1 and len(pressure[0].keys) == 2


def test_conflicts_show_before_saving_and_need_confirmation(coordinator, udn_a, udn_b, client_for):
    broadcast_in(udn_a, name="Já marcado", day=DAY)
    client = client_for(user=coordinator)
    data = {
        "kind": "cross_sell", "name": "Nova cross", "promoting_udn": udn_b.pk, "sources": [udn_a.pk],
        "channel": "email", "start_date": DAY.isoformat(), "end_date": DAY.isoformat(), "budget": "0",
    }  # fmt: skip
    response = client.post("/warroom/campaigns/new/", data)
    assert response.status_code == 200
    assert "Já marcado" in response.content.decode()
    assert 'data-testid="save-warnings"' in response.content.decode()
    assert not JointCampaign.objects.filter(name="Nova cross").exists()
    response = client.post("/warroom/campaigns/new/", {**data, "confirm": "on"})
    assert response.status_code == 302
    assert JointCampaign.objects.filter(name="Nova cross").exists()


def test_calendar_page_lists_entries_conflicts_and_filters(coordinator, udn_a, udn_b, client_for):
    broadcast_in(udn_a, name="Alpha email", day=DAY)
    broadcast_in(udn_b, name="Beta sms", day=DAY, channel="sms")
    joint(by=coordinator, name="Cross junto", promoting=udn_b, sources=[udn_a], start=DAY)
    client = client_for(user=coordinator)
    page = client.get("/warroom/calendar/?month=2026-03").content.decode()
    assert 'data-testid="conflict"' in page and 'id="calendar-events"' not in page  # events: JSON only
    events = "/warroom/calendar/events/?start=2026-03-01&end=2026-04-12"

    def titles(query: str = "") -> set[str]:
        return {e["title"] for e in client.get(events + query).json()["events"]}

    assert {"Alpha email · UDN Alpha", "Beta sms · UDN Beta"} <= titles()
    assert "Beta sms · UDN Beta" in titles("&channel=sms") and "Alpha email · UDN Alpha" not in titles(
        "&channel=sms"
    )
    only_beta = titles(f"&udn={udn_b.pk}")
    assert "Beta sms · UDN Beta" in only_beta and "Alpha email · UDN Alpha" not in only_beta
    joints = client.get("/warroom/calendar/events/?start=2026-03-01&end=2026-04-12&kind=cross_sell").json()
    assert [e["title"] for e in joints["events"]] == ["Cross junto"]
    drafts = client.get("/warroom/calendar/events/?start=2026-03-01&end=2026-04-12&status=scheduled").json()
    assert {e["title"] for e in drafts["events"]} == {"Alpha email · UDN Alpha", "Beta sms · UDN Beta"}


def test_moving_a_campaign_warns_then_saves_when_confirmed(coordinator, udn_a, udn_b, client_for):
    broadcast_in(udn_a, name="Fixo", day=DAY)
    campaign = joint(
        by=coordinator,
        name="Móvel",
        promoting=udn_b,
        sources=[udn_a],
        start=DAY + timedelta(days=10),
        end=DAY + timedelta(days=12),
    )
    client = client_for(user=coordinator)
    answer = client.post(
        "/warroom/calendar/move/",
        {"key": f"joint-{campaign.pk}", "date": DAY.isoformat()},
        HTTP_ACCEPT="application/json",
    ).json()
    assert answer["saved"] is False and answer["warnings"]
    campaign.refresh_from_db()
    assert campaign.start_date == DAY + timedelta(days=10)
    answer = client.post(
        "/warroom/calendar/move/",
        {"key": f"joint-{campaign.pk}", "date": DAY.isoformat(), "confirm": "on"},
        HTTP_ACCEPT="application/json",
    ).json()
    assert answer["saved"] is True
    campaign.refresh_from_db()
    assert (campaign.start_date, campaign.end_date) == (DAY, DAY + timedelta(days=2))
    # The keyboard way: the date field's form, without JavaScript.
    response = client.post(
        "/warroom/calendar/move/",
        {"key": f"joint-{campaign.pk}", "date": (DAY + timedelta(days=20)).isoformat()},
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.start_date == DAY + timedelta(days=20)


def test_ical_feed_is_secret_revocable_and_parses(coordinator, udn_a, udn_b, client_for):
    joint(
        by=coordinator,
        name="Cross no feed",
        promoting=udn_b,
        sources=[udn_a],
        start=date.today() + timedelta(days=3),
    )
    client = client_for(user=coordinator)
    client.post("/warroom/calendar/feed/reset/")
    token = CalendarFeed.objects.get(user=coordinator).token
    anonymous = client_for()
    response = anonymous.get(f"/warroom/calendar/feed/{token}.ics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    events = [c for c in calendar.walk("VEVENT")]
    assert [str(e["summary"]) for e in events] == ["Cross no feed"]
    assert events[0].decoded("dtstart") == date.today() + timedelta(days=3)
    client.post("/warroom/calendar/feed/reset/")  # revoke
    assert anonymous.get(f"/warroom/calendar/feed/{token}.ics").status_code == 404
    assert anonymous.get("/warroom/calendar/feed/not-a-token.ics").status_code == 404


@pytest.mark.parametrize("kind", ["marketer", "analyst"])
def test_udn_members_see_only_entries_involving_their_udn(
    kind, request, coordinator, udn_a, udn_b, client_for
):
    user = request.getfixturevalue(kind)  # both are members of UDN A
    broadcast_in(udn_b, name="Só beta", day=DAY)
    joint(by=coordinator, name="Cross beta para beta", promoting=udn_b, sources=[udn_b], start=DAY)
    joint(by=coordinator, name="Cross para alpha", promoting=udn_b, sources=[udn_a], start=DAY)
    client = client_for(user=user)
    events = client.get("/warroom/calendar/events/?start=2026-03-01&end=2026-04-12").content.decode()
    table = client.get("/warroom/calendar/?month=2026-03&view=list").content.decode()
    for page in (events, table):
        assert "Cross para alpha" in page
        assert "Só beta" not in page and "Cross beta para beta" not in page
