"""Behaviour that depends on a real Celery worker process (on the test database and Redis)."""

import pytest
from django_tenants.utils import tenant_context

from crm.models import Affiliate
from tenants.models import UDN
from tenants.tasks import udn_tick
from tenants.tests.helpers import wait_for

pytestmark = pytest.mark.worker


def test_a_task_queued_from_a_udn_request_runs_in_that_udns_schema(
    celery_worker_process, committed, client_for
):
    from tenants.tests.factories import make_user

    alpha, beta = UDN.objects.get(slug="alpha"), UDN.objects.get(slug="beta")
    UDN.objects.filter(pk__in=[alpha.pk, beta.pk]).update(last_tick_at=None)
    user = make_user("worker.request@alpha.test", udn=alpha)
    committed.append(user.delete)

    response = client_for(alpha, user).post("/heartbeat/ping/", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert wait_for(lambda: UDN.objects.get(pk=alpha.pk).last_tick_at is not None)
    assert UDN.objects.get(pk=beta.pk).last_tick_at is None


def test_a_row_in_udn_a_is_invisible_to_a_task_running_in_udn_b(celery_worker_process, committed):
    alpha = UDN.objects.get(slug="alpha")
    with tenant_context(alpha):
        Affiliate.objects.create(external_id="W-1", name="Rosa Worker")
    committed.append(lambda: _delete_affiliates(alpha))

    # Queued from the public schema with the header beat uses, as beat does.
    in_beta = udn_tick.apply_async(headers={"_schema_name": "beta"}).get(timeout=30)
    in_alpha = udn_tick.apply_async(headers={"_schema_name": "alpha"}).get(timeout=30)

    assert in_beta == {"schema": "beta", "affiliates": 0}
    assert in_alpha == {"schema": "alpha", "affiliates": 1}


def _delete_affiliates(udn: UDN) -> None:
    with tenant_context(udn):
        Affiliate.objects.all().delete()
