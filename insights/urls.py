"""A UDN's dashboards (included by crm/urls_tenant.py)."""

from django.urls import path
from django.views.generic import RedirectView

from insights import views

urlpatterns = [
    path("insights/", RedirectView.as_view(url="/insights/time/"), name="insights"),
    path("insights/attribution/spend/", views.spend_import, name="insights-spend-import"),
    path("insights/<slug:page>/", views.dashboard, name="insights-page"),
]
