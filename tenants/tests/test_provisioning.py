import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django_celery_beat.models import PeriodicTask
from django_tenants.utils import schema_exists

from tenants.models import UDN, Domain
from tenants.services import ProvisioningError, udn_provision


def tables_in(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema])
        return {row[0] for row in cursor.fetchall()}


def test_provisioning_creates_schema_domain_and_beat_tick(db):
    udn = udn_provision(name="UDN Sul", slug="sul-pr", time_zone="America/Sao_Paulo")

    assert udn.schema_name == "sul_pr"
    assert schema_exists("sul_pr")
    assert {"crm_affiliate", "django_migrations"} <= tables_in("sul_pr")
    assert Domain.objects.get(tenant=udn).domain == "sul-pr.localhost"
    tick = PeriodicTask.objects.get(name="udn-tick@sul_pr")
    assert tick.task == "tenants.udn_tick"
    assert json.loads(tick.headers) == {"_schema_name": "sul_pr"}
    assert tick.enabled and tick.interval is not None


def test_provisioning_the_same_slug_twice_gives_a_clear_error(db):
    udn_provision(name="UDN Sul", slug="sul")

    with pytest.raises(ProvisioningError, match="Já existe uma UDN com o identificador “sul”"):
        udn_provision(name="Outra Sul", slug="sul")
    assert UDN.objects.filter(slug="sul").count() == 1


def test_provisioning_command_reports_a_duplicate_slug(db):
    call_command("provision_udn", "--name", "UDN Centro", "--slug", "centro")

    with pytest.raises(CommandError, match="Já existe"):
        call_command("provision_udn", "--name", "UDN Centro", "--slug", "centro")


def test_provisioning_rejects_a_malformed_slug_and_time_zone(db):
    with pytest.raises(ValidationError) as excinfo:
        udn_provision(name="Ruim", slug="Não Vale", time_zone="Marte/Olympus")

    assert set(excinfo.value.message_dict) == {"slug", "time_zone"}
    assert not UDN.objects.filter(name="Ruim").exists()


def test_provisioning_rejects_a_domain_in_use(db, udn_a):
    with pytest.raises(ProvisioningError, match="alpha.localhost"):
        udn_provision(name="Clone", slug="clone", domain="alpha.localhost")


def test_admin_add_button_provisions_through_the_form(db, client_for):
    from tenants.tests.factories import make_user

    admin = make_user("root@plataforma.test", is_coordinator=True)
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client = client_for(None, admin)

    assert client.get("/admin/tenants/udn/add/").url == "/admin/tenants/udn/provision/"
    response = client.post(
        "/admin/tenants/udn/provision/",
        {"name": "UDN Norte", "slug": "norte", "domain": "", "time_zone": "America/Manaus"},
    )

    assert response.status_code == 302
    udn = UDN.objects.get(slug="norte")
    assert udn.time_zone == "America/Manaus" and schema_exists("norte")
    again = client.post(
        "/admin/tenants/udn/provision/",
        {"name": "UDN Norte", "slug": "norte", "domain": "", "time_zone": "America/Manaus"},
    )
    assert again.status_code == 200
    assert "Já existe uma UDN com o identificador “norte”" in again.content.decode()
