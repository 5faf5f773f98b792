"""The demo `./dev up` loads: two UDNs with a realistic base each (crm.demo.base), and a user per role.
Safe to run again."""

from __future__ import annotations

from dataclasses import dataclass

from django_tenants.utils import tenant_context

from crm.demo.base import demo_base_load, demo_home_states
from crm.models import Affiliate
from crm.services.quality import quality_snapshot_take
from tenants.models import UDN, Role, User
from tenants.selectors import udn_list
from tenants.services import membership_grant, udn_provision, user_create

DEMO_PASSWORD = "demo-udn-2026"
DEMO_UDNS = [
    {"name": "UDN Sudeste", "slug": "sudeste", "time_zone": "America/Sao_Paulo"},
    {"name": "UDN Nordeste", "slug": "nordeste", "time_zone": "America/Recife"},
]
DEMO_BASE_SIZE = 20_000  # affiliates per demo UDN, with ~180 days of events


@dataclass(frozen=True)
class DemoUser:
    email: str
    first_name: str
    last_name: str
    roles: dict[str, str]  # udn slug -> role
    is_coordinator: bool = False
    is_superuser: bool = False


DEMO_USERS = [
    DemoUser("coordenacao@demo.udn", "Carla", "Coordenadora", {}, is_coordinator=True),
    DemoUser(
        "marketing@demo.udn", "Marcos", "Marketing", {"sudeste": Role.MARKETER, "nordeste": Role.MARKETER}
    ),
    DemoUser("analista@demo.udn", "Ana", "Analista", {"sudeste": Role.ANALYST, "nordeste": Role.ANALYST}),
    DemoUser("admin@demo.udn", "Admin", "Plataforma", {}, is_coordinator=True, is_superuser=True),
]


def demo_load(*, base_size: int = DEMO_BASE_SIZE) -> list[UDN]:
    udns = []
    for udn_spec in DEMO_UDNS:
        udn = udn_list().filter(slug=udn_spec["slug"]).first() or udn_provision(**udn_spec)
        udns.append(udn)
    by_slug = {udn.slug: udn for udn in udns}
    for spec in DEMO_USERS:
        user = User.objects.filter(email=spec.email).first()
        if user is None:
            user = user_create(
                email=spec.email,
                password=DEMO_PASSWORD,
                first_name=spec.first_name,
                last_name=spec.last_name,
                is_coordinator=spec.is_coordinator,
            )
            if spec.is_superuser:
                user.is_superuser = user.is_staff = True
                user.save(update_fields=["is_superuser", "is_staff"])
        for slug, role in spec.roles.items():
            membership_grant(user=user, udn=by_slug[slug], role=role)
    for seed, udn in enumerate(udns, start=1):
        with tenant_context(udn):
            if not Affiliate.objects.exists():  # loaded once: `./dev up` again changes nothing
                demo_base_load(size=base_size, seed=seed, home_states=demo_home_states(region=udn.slug))
                # Today's data-quality snapshot, so the shared comparison has figures on first run.
                quality_snapshot_take()
    return udns
