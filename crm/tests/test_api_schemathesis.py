"""Schemathesis against the live OpenAPI schema of a real web server process: every operation of
/api/v1/ on UDN alpha's host, with a key holding every scope. No 5xx anywhere, and every response
is documented (status code, content type, body schema)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import schemathesis
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from crm.api.services import api_key_create
from crm.models import API_SCOPES_OFFERED, Affiliate, ApiKey, WebhookSubscription
from tenants.models import UDN

pytestmark = pytest.mark.worker

MAX_EXAMPLES = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _alpha_host(port: str) -> str:
    return f"alpha.localhost:{port}"


@pytest.fixture(scope="module")
def live_schema(web_server: str, django_db_blocker) -> schemathesis.schemas.BaseSchema:
    """The schema as the running server publishes it on alpha's host (alpha.localhost does not
    resolve here: connect to 127.0.0.1 and send the Host header)."""
    base = f"http://127.0.0.1:{web_server}"
    schema = schemathesis.openapi.from_url(
        f"{base}/api/v1/schema/?format=json",
        headers={"Host": _alpha_host(web_server)},
        timeout=30,
    )
    schema.config.update(base_url=base)
    return schema


@pytest.fixture
def live_key(web_server: str, committed) -> Iterator[str]:
    """A committed key of UDN alpha with every scope, and one affiliate for the lookups to find;
    both removed at teardown with whatever the run created."""
    alpha = UDN.objects.get(slug="alpha")
    with tenant_context(alpha):
        api_key, key = api_key_create(
            name="schemathesis", scopes=list(API_SCOPES_OFFERED), created_by="schemathesis@alpha.test"
        )
        affiliate = Affiliate.objects.create(
            external_id="ST-1", name="Sara Tesis", cpf="52998224725", state="SP", tags=["vip"]
        )

    def clean() -> None:
        # The run creates affiliates, events, consent changes and webhook subscriptions through the
        # API: everything from this affiliate on goes (events and the rest by cascade), so later
        # tests find alpha as they expect it.
        with tenant_context(alpha):
            Affiliate.objects.filter(pk__gte=affiliate.pk).delete()
            WebhookSubscription.objects.all().delete()
            ApiKey.objects.filter(pk=api_key.pk).delete()

    committed.append(clean)
    yield key


def test_every_api_operation_answers_without_5xx_and_as_documented(live_schema, web_server, live_key):
    """One Hypothesis run per operation of the live schema (schemathesis' lazy pytest integration
    reads a private attribute pytest 9 no longer has, so the operations are driven here); every
    failing operation is reported, not only the first."""
    headers = {
        "Host": _alpha_host(web_server),
        "Authorization": f"Bearer {live_key}",
        "Accept-Language": "en",
    }
    operations = [result.ok() for result in live_schema.get_all_operations()]
    assert len(operations) >= 4  # affiliates list/detail, events single/batch at least
    failures: dict[str, BaseException] = {}
    with requests.Session() as session:
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(
                max_examples=MAX_EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
            )
            def run(case) -> None:
                case.call_and_validate(session=session, headers=headers, checks=CHECKS, timeout=30)

            try:
                run()
            except (Exception, FailureGroup) as error:  # noqa: BLE001 - collected, reported below
                failures[f"{operation.method.upper()} {operation.path}"] = error
    assert not failures, "\n\n".join(f"== {label}\n{error}" for label, error in failures.items())
