"""/api/v1/messages/ (mounted by crm.api.base.api_urls_register from CampaignsConfig.ready)."""

from django.urls import URLPattern, URLResolver, path

from campaigns import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("", api.MessageCollectionView.as_view(), name="api-message-list"),
    path("<int:pk>/", api.MessageItemView.as_view(), name="api-message-detail"),
]
