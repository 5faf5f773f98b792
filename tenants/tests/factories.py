"""factory_boy factories for the shared space: users, memberships, UDNs (Faker "pt_BR").

UDNs are never made per test (a schema each would cost seconds): UDNFactory returns the
session's UDN of that slug (alpha or beta, provisioned once by the database plugin), provisioning
it through `udn_provision` only if it is missing. Users and memberships go through the services
(`user_create`, `membership_grant`), as the product makes them.
"""

from __future__ import annotations

import unicodedata

import factory
from factory.django import DjangoModelFactory

from tenants.models import UDN, Membership, Role, User
from tenants.services import membership_grant, udn_provision, user_create

PASSWORD = "s3nha-de-teste-2026"  # every test user's


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace(" ", "")


class UDNFactory(factory.Factory[UDN]):
    """One of the session's UDNs (alpha by default), never a new schema per test."""

    class Meta:
        model = UDN

    slug = "alpha"
    name = factory.LazyAttribute(lambda o: f"UDN {o.slug.capitalize()}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        udn = UDN.objects.filter(slug=kwargs["slug"]).first()
        return udn if udn is not None else udn_provision(name=kwargs["name"], slug=kwargs["slug"])


class UserFactory(DjangoModelFactory[User]):
    """A user with the tests' PASSWORD and a Brazilian name (e-mail made from it, unique)."""

    class Meta:
        model = User

    first_name = factory.Faker("first_name", locale="pt_BR")
    last_name = factory.Faker("last_name", locale="pt_BR")
    email = factory.LazyAttributeSequence(
        lambda o, n: f"{_ascii(o.first_name)}.{_ascii(o.last_name)}.{n}@exemplo.test"
    )
    is_coordinator = False

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return user_create(password=PASSWORD, **kwargs)


class MembershipFactory(DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    udn = factory.SubFactory(UDNFactory)
    role = Role.MARKETER

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return membership_grant(**kwargs)


def make_user(email: str, *, udn: UDN | None = None, role: str = Role.MARKETER, **extra) -> User:
    """A user with this e-mail (names blank unless given, as the personas have them), a member of
    `udn` with `role` if given."""
    extra.setdefault("first_name", "")
    extra.setdefault("last_name", "")
    user = UserFactory.create(email=email, **extra)
    if udn is not None:
        MembershipFactory.create(user=user, udn=udn, role=role)
    return user
