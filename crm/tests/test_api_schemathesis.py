"""The third-party contract run, as a partner would make it: schemathesis' own command line
(`schemathesis run -c all --mode all`) against the live OpenAPI schema that a real web server
process serves on UDN alpha's host, with a key holding every scope. Every check: no 5xx, every
response documented (status, content type, headers, body), every schema-valid request accepted
and every schema-violating one refused, a missing required header refused, an undeclared method
a 405 with Allow, the key actually enforced. Every phase (the schema's examples, the coverage
boundaries, fuzzing, stateful links), at most MAX_EXAMPLES generated cases per operation."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from django_tenants.utils import tenant_context

from crm.models import API_SCOPES_OFFERED, Affiliate, ApiKey, WebhookSubscription
from crm.services.api_keys import api_key_create
from tenants.models import UDN

pytestmark = pytest.mark.worker

# Per operation and phase: enough for the fuzzer to reach each field's edge, a few minutes in all.
MAX_EXAMPLES = 25
RUN_TIMEOUT = 15 * 60
# The API's contract (crm.api.inputs): a request the schema allows is never a 400; a 422 is the
# server refusing what well-formed data means (a CPF's check digits, an affiliate that does not
# exist, a reused Idempotency-Key), which no JSON Schema can state, and is documented on each
# operation that answers it (status_code_conformance holds that). So positive_data_acceptance
# takes its default statuses and 422; every other check runs with its defaults.
CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
"""


def _alpha_host(port: str) -> str:
    return f"alpha.localhost:{port}"


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


def test_every_api_operation_passes_every_schemathesis_check(web_server, live_key, tmp_path):
    """alpha.localhost does not resolve here: connect to 127.0.0.1 and send the Host header (the
    command sends its headers with the schema request too). Deterministic: the same cases on
    every run, so a failure reproduces."""
    base = f"http://127.0.0.1:{web_server}"
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        f"--config-file={config}",
        "run",
        f"{base}/api/v1/schema/?format=json",
        "--checks=all",
        "--mode=all",
        "--phases=examples,coverage,fuzzing,stateful",
        f"--max-examples={MAX_EXAMPLES}",
        "--generation-deterministic",
        "--workers=1",
        "--request-timeout=30",
        "--no-color",
        "--output-truncate=false",
        "--header",
        f"Host: {_alpha_host(web_server)}",
        "--header",
        f"Authorization: Bearer {live_key}",
        "--header",
        "Accept-Language: en",
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)  # noqa: S603 - our own command line
    assert run.returncode == 0, f"{run.stdout[-60_000:]}\n{run.stderr[-5_000:]}"
