"""Menus and links offer only what the person may open: no link, menu entry or sign-in leads a
coordinator (or a member of other UDNs) to a 403."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client

from tenants.models import UDN, User
from tenants.selectors import membership_for, udn_enterable, udn_list_for_user
from tenants.services import membership_grant
from tenants.tests.factories import PASSWORD, make_user

UDN_PAGES = ("/affiliates/", "/imports/", "/quality/", "/lake/", "/api-keys/", "/webhooks/")


def hrefs(html: str) -> set[str]:
    return set(re.findall(r'href="([^"]+)"', html))


def host_of(udn: UDN) -> str:
    return udn.get_primary_domain().domain  # type: ignore[union-attr]


def test_udn_enterable_says_what_membership_for_lets_through(udn_a, udn_b, marketer, coordinator):
    from django.contrib.auth.models import AnonymousUser

    admin = make_user("admin.nav@shared.test")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    for user in (AnonymousUser(), marketer, coordinator, admin):
        for udn in (udn_a, udn_b):
            try:
                membership_for(user=user, udn=udn)  # type: ignore[arg-type]
                lets_through = True
            except PermissionDenied:
                lets_through = False
            assert udn_enterable(user=user, udn=udn) == lets_through, (user, udn)  # type: ignore[arg-type]
            assert (udn in udn_list_for_user(user=user)) == lets_through, (user, udn)  # type: ignore[arg-type]


def test_the_quality_overview_links_only_the_udns_a_coordinator_may_open(
    udn_a, udn_b, coordinator, client_for
):
    membership_grant(user=coordinator, udn=udn_a, role="analyst")

    html = client_for(None, coordinator).get("/quality/").content.decode()

    assert "UDN Alpha" in html and "UDN Beta" in html  # figures of both, side by side
    assert "/switch/alpha/" in hrefs(html)
    assert "/switch/beta/" not in hrefs(html)


def test_signing_in_on_a_udn_one_may_not_open_leads_to_the_shared_space_not_a_403(
    udn_b, coordinator, client_for
):
    client = client_for(udn_b)

    signed_in = client.post("/accounts/login/", {"username": coordinator.email, "password": PASSWORD})

    assert (signed_in.status_code, signed_in["Location"]) == (302, "/switch/shared/")
    onwards = client.get("/switch/shared/")
    assert onwards.status_code == 302
    assert (
        onwards["Location"].startswith("http://localhost")
        and "/accounts/handoff/start/" in onwards["Location"]
    )


def test_signing_in_on_ones_own_udn_still_opens_it(udn_a, marketer, client_for):
    signed_in = client_for(udn_a).post("/accounts/login/", {"username": marketer.email, "password": PASSWORD})

    assert signed_in["Location"] == "/"


def test_the_403_of_a_udn_one_may_not_open_offers_none_of_its_pages(udn_b, coordinator, client_for):
    response = client_for(udn_b, coordinator).get("/")

    assert response.status_code == 403
    links = hrefs(response.content.decode())
    assert not links & set(UDN_PAGES)
    assert "/switch/shared/" in links


def test_members_keep_their_udns_menu(udn_a, marketer, client_for):
    links = hrefs(client_for(udn_a, marketer).get("/").content.decode())

    assert set(UDN_PAGES) <= links


@pytest.mark.parametrize(
    ("who", "says", "never"),
    [
        ("member", "Estas são as suas UDNs.", "que você coordena"),
        (
            "coordinator",
            "Estas são as UDNs que você coordena; você abre aquelas de que participa.",
            "suas UDNs",
        ),
        ("nobody", "Olá, Nina.", "suas UDNs"),
    ],
)
def test_the_shared_home_says_these_are_your_udns_only_when_they_are(udn_a, udn_b, who, says, never):
    user: User = make_user(f"{who}.home@shared.test", first_name="Nina", is_coordinator=who == "coordinator")
    if who == "member":
        membership_grant(user=user, udn=udn_a, role="marketer")
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)

    html = client.get("/").content.decode()
    greeting = html.split('data-testid="home-greeting">')[1].split("</p>")[0]

    assert says in greeting
    assert never not in greeting
