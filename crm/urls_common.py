"""URLs both hosts serve: sign-in, password reset, hand-off, switcher, language, health, favicon."""

from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

from crm.health import healthz
from tenants import views as tenant_views


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """/favicon.ico: browsers and crawlers ask for it whatever the page links to."""
    return HttpResponsePermanentRedirect(static("favicon.ico"))


urlpatterns = [
    path("accounts/login/", tenant_views.SignInView.as_view(), name="login"),
    path("accounts/password_reset/", tenant_views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/handoff/", tenant_views.handoff, name="handoff"),
    path("accounts/handoff/start/", tenant_views.handoff_start, name="handoff-start"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("switch/<slug:slug>/", tenant_views.switch, name="switch"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
]
