"""Sign-in: the throttled backend and the forms that speak for it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.http import HttpRequest
from django.utils.translation import ngettext

from tenants.models import User
from tenants.services import login_attempt_record, login_wait_seconds
from tenants.throttle import client_address
from tenants.urlhelpers import shared_space_netloc


class ThrottledModelBackend(ModelBackend):
    """ModelBackend that refuses to check a password while the account or the client's address
    is throttled, and counts each failure. Every sign-in path (the login page, the admin's,
    `Client.login`) goes through here, so none of them is a way around the limit."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None or password is None:
            return None
        address = client_address(request)
        if login_wait_seconds(email=username, address=address):
            return None
        user = super().authenticate(request, username=username, password=password, **kwargs)
        login_attempt_record(email=username, address=address, succeeded=user is not None)
        return user


class SignInForm(AuthenticationForm):
    """The login form: says to wait (before checking the password) while sign-in is throttled."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if username:
            wait = login_wait_seconds(email=username, address=client_address(self.request))
            if wait:
                minutes = -(-wait // 60)
                raise forms.ValidationError(
                    ngettext(
                        "Too many failed sign-ins. Wait %(minutes)d minute and try again.",
                        "Too many failed sign-ins. Wait %(minutes)d minutes and try again.",
                        minutes,
                    )
                    % {"minutes": minutes},
                    code="throttled",
                )
        return super().clean()


class CanonicalHostPasswordResetForm(PasswordResetForm):
    """Reset links always point at the shared space's own host (BASE_DOMAIN), never at the Host
    header of the request that asked for them (a forged Host would mail a link to the forger)."""

    def save(self, **kwargs: Any) -> None:  # type: ignore[override]
        request = kwargs.get("request")
        assert isinstance(request, HttpRequest), "PasswordResetView passes the request"
        kwargs["domain_override"] = shared_space_netloc(request)
        super().save(**kwargs)
