"""/api/v1/ on a UDN's host."""

from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from crm.api import schema as _schema  # noqa: F401 - registers the Bearer scheme
from crm.api import views

urlpatterns = [
    path("affiliates/", views.AffiliateListView.as_view(), name="api-affiliate-list"),
    path("affiliates/<int:pk>/", views.AffiliateDetailView.as_view(), name="api-affiliate-detail"),
    path("events/", views.EventView.as_view(), name="api-event"),
    path("events/batch/", views.EventBatchView.as_view(), name="api-event-batch"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^", views.ApiNotFoundView.as_view()),  # last: JSON 404 for anything else here
]
