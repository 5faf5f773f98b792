"""The test factories make rows the product would make: valid CPFs and mobiles as stored, a city,
state and time zone that agree, keys that authenticate, users who sign in, no new UDN schema."""

from __future__ import annotations

import re

from django_tenants.utils import tenant_context

from crm.normalize import cpf_normalize, phone_normalize, state_time_zone
from crm.selectors.api_keys import api_key_for_token
from crm.tests.factories import PLACES, AffiliateFactory, ApiKeyFactory, EventFactory
from tenants.models import UDN, Role
from tenants.tests.factories import PASSWORD, MembershipFactory, UDNFactory, UserFactory

MOBILE = re.compile(r"\+55(\d{2})9\d{8}")


def test_affiliates_have_brazilian_data_as_the_model_stores_it(udn_a):
    ddd_of = {(city, state): ddd for city, state, ddd in PLACES}
    with tenant_context(udn_a):
        people = AffiliateFactory.create_batch(40)

    for person in people:
        assert len(person.cpf) == 11 and cpf_normalize(person.cpf) == person.cpf
        assert phone_normalize(person.phone) == person.phone
        mobile = MOBILE.fullmatch(person.phone)
        assert mobile is not None and mobile.group(1) == ddd_of[(person.city, person.state)]
        assert person.time_zone == state_time_zone(person.state)
        assert len(person.name.split()) >= 2 and person.email.count("@") == 1
    assert len({person.cpf for person in people}) > 30  # drawn, not one constant


def test_a_bare_affiliate_has_only_the_fields_given(udn_a):
    with tenant_context(udn_a):
        person = AffiliateFactory(bare=True, state="BA")

    assert (person.cpf, person.phone, person.email, person.city, person.birth_date) == ("", "", "", "", None)
    assert person.state == "BA" and person.name


def test_an_event_belongs_to_a_new_affiliate_unless_given_one(udn_a):
    with tenant_context(udn_a):
        event = EventFactory(amount="10.00")
        again = EventFactory(affiliate=event.affiliate, type="cashout")

    assert event.type == "cash_in" and again.affiliate_id == event.affiliate_id
    assert event.event_id != again.event_id


def test_an_api_key_made_by_the_factory_authenticates_with_its_token(udn_a):
    with tenant_context(udn_a):
        api_key = ApiKeyFactory(scopes=["events:write"])
        assert api_key_for_token(token=api_key.token) == api_key
    assert api_key.scopes == ["events:write"]


def test_users_sign_in_with_the_test_password_and_memberships_reuse_the_session_udns(udn_a, udn_b):
    udns_before = UDN.objects.count()

    membership = MembershipFactory(role=Role.ANALYST)
    other = MembershipFactory(udn=UDNFactory(slug="beta"))

    assert membership.udn == udn_a and other.udn == udn_b
    assert membership.user.check_password(PASSWORD) and membership.role == Role.ANALYST
    assert membership.user.email != other.user.email
    assert UDN.objects.count() == udns_before
    assert UserFactory(is_coordinator=True).is_coordinator
