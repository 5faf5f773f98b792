"""The people of the tests: named personas of the two UDNs and the shared space, test clients
on a UDN's host signed in as one of them, and sign-in throttles reset for each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.test import Client

from tenants.models import UDN, Role, User
from tenants.tests.factories import make_user


@pytest.fixture(autouse=True)
def _fresh_sign_in_throttles() -> Iterator[None]:
    """Sign-in and reset throttles live in Redis, outside the test transaction, and all test
    clients share one address: start each test with none counted."""
    from django.core.cache import caches

    caches["global"].delete_pattern("throttle:*")  # type: ignore[attr-defined]
    yield


@pytest.fixture
def marketer(udn_a) -> User:
    """A marketer of UDN A."""
    return make_user("marina.marketing@alpha.test", udn=udn_a, first_name="Marina")


@pytest.fixture
def analyst(udn_a) -> User:
    """A read-only analyst of UDN A."""
    return make_user("andre.analista@alpha.test", udn=udn_a, role=Role.ANALYST, first_name="André")


@pytest.fixture
def coordinator(db) -> User:
    return make_user("carla.coord@shared.test", is_coordinator=True, first_name="Carla")


@pytest.fixture
def outsider(udn_b) -> User:
    """A member of UDN B only."""
    return make_user("otto.fora@beta.test", udn=udn_b, first_name="Otto")


def host_of(udn: UDN) -> str:
    return udn.get_primary_domain().domain  # type: ignore[union-attr]


@pytest.fixture
def client_for() -> Callable[..., Client]:
    """A test client on `udn`'s host (or the shared space's), signed in as `user` if given."""

    def make(udn: UDN | None = None, user: User | None = None) -> Client:
        client = Client(HTTP_HOST=host_of(udn) if udn is not None else "localhost")
        if user is not None:
            client.force_login(user)
        return client

    return make
