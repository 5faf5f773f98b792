"""The journeys' partner API asks for scopes of its own: journeys:write to enrol, journeys:read to
read an enrollment. A key with only the scopes the endpoints borrowed before (events:write,
affiliates:read) gets a 403 that names the missing scope."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from campaigns.models import Enrollment, MessageTemplate
from campaigns.tests.journey_helpers import published
from crm.tests.factories import AffiliateFactory
from crm.tests.helpers import Api, error_of, make_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def journey(udn_a):
    with tenant_context(udn_a):
        MessageTemplate.objects.create(slug="a", name="A", channel="email", subject="Oi", body_text="Oi")
        AffiliateFactory(external_id="API-1", consent_email=True)
        return published(
            {
                "triggers": [{"type": "manual", "start": "wait"}],
                "steps": [
                    {"id": "wait", "type": "wait", "days": 1, "next": "send"},
                    {
                        "id": "send",
                        "type": "send",
                        "channels": ["email"],
                        "templates": {"email": "a"},
                        "next": None,
                    },
                ],
            }
        )


def test_enrolling_needs_journeys_write_and_reading_needs_journeys_read(udn_a, journey):
    url = f"/api/v1/journeys/{journey.pk}/enrollments/"
    body = {"affiliate": {"external_id": "API-1"}}

    borrowed = Api(udn_a, make_key(udn_a, ["events:write", "affiliates:read", "journeys:read"]))
    refused = borrowed.post(url, body)
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "insufficient_scope"
    assert "journeys:write" in error_of(refused)["message"]
    with tenant_context(udn_a):
        assert not Enrollment.objects.exists()

    writer = Api(udn_a, make_key(udn_a, ["journeys:write"]))
    made = writer.post(url, body)
    assert made.status_code == 201, made.content
    enrollment_url = f"{url}{made.json()['id']}/"

    cannot_read = writer.get(enrollment_url)
    assert cannot_read.status_code == 403
    assert "journeys:read" in error_of(cannot_read)["message"]
    shown = borrowed.get(enrollment_url)
    assert shown.status_code == 200 and shown.json()["step"] == "wait"


def test_the_schema_names_the_journeys_scopes(udn_a):
    schema = Api(udn_a, None).get("/api/v1/schema/", {"format": "json"}).json()
    operations = schema["paths"]["/api/v1/journeys/{id}/enrollments/"]
    assert operations["post"]["description"].endswith("Scope: `journeys:write`.")
    item = schema["paths"]["/api/v1/journeys/{id}/enrollments/{enrollment}/"]["get"]
    assert item["description"].endswith("Scope: `journeys:read`.")
