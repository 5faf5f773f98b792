"""/api/v1/journeys/ (mounted by crm.api.base.api_urls_register from CampaignsConfig.ready)."""

from django.urls import URLPattern, URLResolver, path

from campaigns import api_journeys

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "<int:pk>/enrollments/",
        api_journeys.EnrollmentCollectionView.as_view(),
        name="api-journey-enrollments",
    ),
    path(
        "<int:pk>/enrollments/<int:enrollment>/",
        api_journeys.EnrollmentItemView.as_view(),
        name="api-journey-enrollment",
    ),
]
