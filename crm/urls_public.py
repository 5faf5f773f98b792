"""The shared space (public schema): localhost."""

from django.contrib import admin
from django.urls import path

from crm.urls_common import urlpatterns as common
from crm.views import quality
from tenants import views as tenant_views

urlpatterns = [
    path("", tenant_views.shared_home, name="home"),
    path("admin/", admin.site.urls),
    path("quality/", quality.quality_overview, name="quality-overview"),
    *common,
]
