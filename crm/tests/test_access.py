"""Direct requests to every URL of a UDN that names one of its objects, by each persona, around the
UI: the one door (crm.access) answers 302 to sign in, 403 or 404 exactly as the pages always did.

A read-only role is refused before the object is looked up, so an analyst cannot tell which keys
exist; a member of another UDN is refused at the door of this one, and on their own UDN's host
this UDN's objects do not exist."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from django_tenants.utils import tenant_context

from crm.models import WebhookDelivery, WebhookDeliveryStatus, WebhookEvent
from crm.tests.factories import (
    AffiliateFactory,
    ApiKeyFactory,
    ImportJobFactory,
    RejectedRowFactory,
    WebhookSubscriptionFactory,
)


@dataclass(frozen=True)
class ObjectUrl:
    method: str
    path: str  # "{pk}" stands for the object's key
    kind: str  # which object of UDN A fills {pk}
    write: bool  # only roles that may change data (marketers) get through

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


OBJECT_URLS = [
    ObjectUrl("get", "/affiliates/{pk}/", "affiliate", write=False),
    ObjectUrl("get", "/imports/{pk}/", "import_job", write=False),
    ObjectUrl("get", "/imports/{pk}/rejected.csv", "import_job", write=False),
    ObjectUrl("get", "/imports/{pk}/rejected.xlsx", "import_job", write=False),
    ObjectUrl("get", "/imports/{pk}/mapping/", "import_job", write=True),
    ObjectUrl("post", "/imports/{pk}/mapping/", "import_job", write=True),
    ObjectUrl("get", "/imports/{pk}/preview/", "import_job", write=True),
    ObjectUrl("post", "/imports/{pk}/preview/", "import_job", write=True),
    ObjectUrl("post", "/imports/{pk}/cancel/", "import_job", write=True),
    ObjectUrl("post", "/imports/{pk}/retry/", "import_job", write=True),
    ObjectUrl("post", "/api-keys/{pk}/revoke/", "api_key", write=True),
    ObjectUrl("post", "/webhooks/{pk}/toggle/", "webhook_subscription", write=True),
    ObjectUrl("post", "/webhooks/{pk}/rotate-secret/", "webhook_subscription", write=True),
    ObjectUrl("post", "/webhooks/deliveries/{pk}/redeliver/", "webhook_delivery", write=True),
]

# Keys no object has: integer keys far beyond any sequence, a fresh UUID for import jobs.
MISSING = {
    "affiliate": 987654321,
    "import_job": uuid.UUID("00000000-0000-4000-8000-000000000000"),
    "api_key": 987654321,
    "webhook_subscription": 987654321,
    "webhook_delivery": 987654321,
}

#: Who asks, from which host, for which key → what they get (`write` is the URL's).
#: "login" is a redirect to the sign-in page that comes back to the URL.
PERSONAS = {
    "anonymous": lambda write: "login",
    "outsider": lambda write: 403,  # a member of UDN B only, on UDN A's host
    "outsider at home": lambda write: 404,  # the same person on UDN B's host asking for A's key
    "analyst": lambda write: 403 if write else 200,
    "analyst, missing key": lambda write: 403 if write else 404,
    "marketer, missing key": lambda write: 404,
}


@pytest.fixture
def objects_of_a(udn_a, settings, tmp_path) -> dict[str, object]:
    """One object of each kind in UDN A, by kind: its key."""
    settings.MEDIA_ROOT = tmp_path
    with tenant_context(udn_a):
        job = ImportJobFactory()
        RejectedRowFactory(job=job)
        subscription = WebhookSubscriptionFactory()
        delivery = WebhookDelivery.objects.create(
            subscription=subscription,
            event=WebhookEvent.AFFILIATE_STAGE_CHANGED,
            payload={},
            status=WebhookDeliveryStatus.FAILED,
            attempts=1,
        )
        return {
            "affiliate": AffiliateFactory().pk,
            "import_job": job.pk,
            "api_key": ApiKeyFactory().pk,
            "webhook_subscription": subscription.pk,
            "webhook_delivery": delivery.pk,
        }


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("url", OBJECT_URLS, ids=str)
def test_each_object_url_answers_each_persona_through_the_one_door(
    url, persona, udn_a, udn_b, marketer, analyst, outsider, client_for, objects_of_a
):
    key = MISSING[url.kind] if "missing key" in persona else objects_of_a[url.kind]
    path = url.path.format(pk=key)
    client = {
        "anonymous": lambda: client_for(udn_a),
        "outsider": lambda: client_for(udn_a, outsider),
        "outsider at home": lambda: client_for(udn_b, outsider),
        "analyst": lambda: client_for(udn_a, analyst),
        "analyst, missing key": lambda: client_for(udn_a, analyst),
        "marketer, missing key": lambda: client_for(udn_a, marketer),
    }[persona]()

    response = getattr(client, url.method)(path)

    expected = PERSONAS[persona](url.write)
    if expected == "login":
        assert response.status_code == 302
        assert response.url == f"/accounts/login/?next={path}"
    else:
        assert response.status_code == expected


#: The switcher (/switch/<slug>/, on any host) by who asks for which space → what they get.
SWITCHES = [
    (None, "alpha", "login"),
    ("marketer", "alpha", 302),  # on to the hand-off
    ("marketer", "shared", 302),
    ("outsider", "alpha", 403),  # a UDN they are not a member of
    ("coordinator", "alpha", 403),  # coordinators see every UDN but enter only their own
    ("marketer", "nowhere", 404),
]


@pytest.mark.parametrize(("who", "slug", "expected"), SWITCHES)
def test_the_switcher_goes_only_to_spaces_one_may_enter(
    who, slug, expected, marketer, outsider, coordinator, client_for
):
    user = {"marketer": marketer, "outsider": outsider, "coordinator": coordinator, None: None}[who]

    response = client_for(None, user).get(f"/switch/{slug}/")

    if expected == "login":
        assert response.status_code == 302
        assert response.url == f"/accounts/login/?next=/switch/{slug}/"
    else:
        assert response.status_code == expected
        if expected == 302:
            assert "/accounts/handoff/start/?back=shared" in response.url


def test_the_hand_off_back_to_a_space_that_does_not_exist_is_404(client_for, udn_a):
    assert client_for(udn_a).get("/accounts/handoff/start/?back=nowhere").status_code == 404
    assert client_for(udn_a).get("/accounts/handoff/start/?back=shared").status_code == 302
