"""/api/v1/ on a UDN's host: the CRM's resources, then the endpoints other apps registered
(crm.api.base.api_urls_register), then a JSON 404 for anything else."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from crm.api import affiliates, consent, events, funnel, segments, statuses, webhooks
from crm.api import schema as _schema  # noqa: F401 - registers the Bearer scheme
from crm.api.base import ApiNotFoundView, registered_api_urls

CRM_URLS: list[URLPattern | URLResolver] = [
    path("affiliates/", affiliates.AffiliateCollectionView.as_view(), name="api-affiliate-list"),
    path("affiliates/bulk/", affiliates.AffiliateBulkView.as_view(), name="api-affiliate-bulk"),
    path("affiliates/<int:pk>/", affiliates.AffiliateItemView.as_view(), name="api-affiliate-detail"),
    path("affiliates/<int:pk>/consent/", consent.ConsentView.as_view(), name="api-affiliate-consent"),
    path("statuses/", statuses.StatusView.as_view(), name="api-status"),
    path("funnel/", funnel.FunnelView.as_view(), name="api-funnel"),
    path("events/", events.EventView.as_view(), name="api-event"),
    path("events/batch/", events.EventBatchView.as_view(), name="api-event-batch"),
    path("segments/", segments.SegmentListView.as_view(), name="api-segment-list"),
    path("segments/<int:pk>/", segments.SegmentItemView.as_view(), name="api-segment-detail"),
    path("segments/<int:pk>/members/", segments.SegmentMembersView.as_view(), name="api-segment-members"),
    path("webhooks/", webhooks.WebhookListView.as_view(), name="api-webhook-list"),
    path(
        "webhooks/<int:pk>/deliveries/",
        webhooks.WebhookDeliveryListView.as_view(),
        name="api-webhook-deliveries",
    ),
    path(
        "webhooks/<int:pk>/rotate-secret/",
        webhooks.WebhookRotateSecretView.as_view(),
        name="api-webhook-rotate-secret",
    ),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery_pk>/redeliver/",
        webhooks.WebhookRedeliverView.as_view(),
        name="api-webhook-redeliver",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]


def api_urlpatterns() -> list[URLPattern | URLResolver]:
    """The CRM's endpoints, every registered app's, and last the JSON 404."""
    return [
        *CRM_URLS,
        *(path(entry.prefix, include(entry.urlconf)) for entry in registered_api_urls()),
        re_path(r"^", ApiNotFoundView.as_view()),
    ]


urlpatterns = api_urlpatterns()
