"""URLs both hosts serve: sign-in, password reset, hand-off, switcher, language, health."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from crm.health import healthz
from tenants import views as tenant_views

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/handoff/", tenant_views.handoff, name="handoff"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("switch/<slug:slug>/", tenant_views.switch, name="switch"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", healthz, name="healthz"),
]
