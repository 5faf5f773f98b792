"""The shared space (public schema): localhost."""

from django.contrib import admin
from django.urls import include, path

from crm.urls_common import urlpatterns as common
from crm.views import quality
from tenants import views as tenant_views

urlpatterns = [
    path("", tenant_views.shared_home, name="home"),
    path("admin/", admin.site.urls),
    path("quality/", quality.quality_overview, name="quality-overview"),
    path("", include("insights.urls_public")),
    # The coordination space (calendar, joint campaigns, War Room board), included by name.
    path("warroom/", include("warroom.urls")),
    *common,
]

# Under /api/ Django's own error pages answer in the API's JSON format (crm.api.errors).
handler400 = "crm.api.errors.bad_request"
handler403 = "crm.api.errors.permission_denied"
handler404 = "crm.api.errors.page_not_found"
handler500 = "crm.api.errors.server_error"
