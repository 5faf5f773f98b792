"""/api/v1/ on a UDN's host."""

from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from crm.api import schema as _schema  # noqa: F401 - registers the Bearer scheme
from crm.api import views, webhooks, writes

urlpatterns = [
    path("affiliates/", writes.AffiliateCollectionView.as_view(), name="api-affiliate-list"),
    path("affiliates/bulk/", writes.AffiliateBulkView.as_view(), name="api-affiliate-bulk"),
    path("affiliates/<int:pk>/", writes.AffiliateItemView.as_view(), name="api-affiliate-detail"),
    path("affiliates/<int:pk>/consent/", writes.ConsentView.as_view(), name="api-affiliate-consent"),
    path("statuses/", writes.StatusView.as_view(), name="api-status"),
    path("funnel/", writes.FunnelView.as_view(), name="api-funnel"),
    path("events/", views.EventView.as_view(), name="api-event"),
    path("events/batch/", views.EventBatchView.as_view(), name="api-event-batch"),
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
    re_path(r"^", views.ApiNotFoundView.as_view()),  # last: JSON 404 for anything else here
]
