"""The shared space's side-by-side view (included by crm/urls_public.py)."""

from django.urls import path

from insights import views

urlpatterns = [path("insights/", views.overview, name="insights-overview")]
