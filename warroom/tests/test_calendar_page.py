"""The calendar page's shell is a few queries on a warm view: what it shows the same to everyone of
a scope (the conflicts list rendered, the UDN filter's choices) is one cache read, which any change
it shows (a UDN renamed, a membership given or taken, a new conflict, the language) replaces at once."""

from __future__ import annotations

from datetime import date, timedelta

from tenants.models import Membership, Role
from warroom.tests.helpers import broadcast_in, joint

DAY = date(2026, 3, 10)
PAGE = "/warroom/calendar/?month=2026-03"


def _filter_udns(html: str) -> str:
    return html.split('id="f-udn"', 1)[1].split("</select>", 1)[0]


def test_a_warm_calendar_page_is_five_queries(
    coordinator, marketer, udn_a, udn_b, client_for, django_assert_max_num_queries
):
    for n in range(3):
        broadcast_in(udn_a, name=f"Disparo {n}", day=DAY + timedelta(days=n))
    joint(by=coordinator, name="Cross", promoting=udn_b, sources=[udn_a], start=DAY)
    for user in (coordinator, marketer):
        client = client_for(user=user)
        assert client.get(PAGE).status_code == 200  # fills the caches
        # The session, the user, their memberships (the shared space's door), their calendar
        # address, the UDNs the switcher offers: the filters and conflicts come from the cache.
        with django_assert_max_num_queries(5):
            response = client.get(PAGE)
        assert response.status_code == 200
        assert "UDN Alpha" in _filter_udns(response.content.decode())


def test_a_renamed_udn_shows_at_once_in_the_filter(coordinator, udn_a, client_for):
    client = client_for(user=coordinator)
    assert "UDN Alpha" in _filter_udns(client.get(PAGE).content.decode())
    udn_a.name = "UDN Alfa Renomeada"
    udn_a.save()
    udns = _filter_udns(client.get(PAGE).content.decode())
    assert "UDN Alfa Renomeada" in udns and "UDN Alpha" not in udns


def test_a_membership_given_or_taken_shows_at_once_in_the_filter(marketer, udn_a, udn_b, client_for):
    client = client_for(user=marketer)
    udns = _filter_udns(client.get(PAGE).content.decode())
    assert "UDN Alpha" in udns and "UDN Beta" not in udns
    membership = Membership.objects.create(user=marketer, udn=udn_b, role=Role.ANALYST)
    assert "UDN Beta" in _filter_udns(client.get(PAGE).content.decode())
    membership.delete()
    assert "UDN Beta" not in _filter_udns(client.get(PAGE).content.decode())


def test_a_new_conflict_and_the_language_show_at_once(coordinator, udn_a, udn_b, client_for):
    client = client_for(user=coordinator)
    assert 'data-testid="no-conflicts"' in client.get(PAGE).content.decode()
    for n in range(5):
        broadcast_in(udn_a, name=f"Disparo {n}", day=DAY + timedelta(days=n % 2))
    joint(by=coordinator, name="Cross fadiga", promoting=udn_b, sources=[udn_a], start=DAY)
    html = client.get(PAGE).content.decode()
    assert 'data-testid="no-conflicts"' not in html and 'data-testid="conflict"' in html
    assert "<h2>Conflitos" in html
    english = client.get(PAGE, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<h2>Conflicts" in english and "<h2>Conflitos" not in english
