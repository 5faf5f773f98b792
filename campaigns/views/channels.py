"""Canais: how each channel of this UDN sends (the local sandbox or its real provider), with the
provider's settings, secrets (write-only: a saved one shows only when it was set), rate and switch;
"Testar conexão" tries the credentials without sending."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from campaigns.models import ChannelConfig
from campaigns.models import Provider as ProviderKind
from campaigns.providers.base import REAL_PROVIDER, SPECS, channel_config_get
from campaigns.secrets import SecretsUnreadable, secrets_decrypt
from campaigns.services.channels import ChannelChange, ChannelError, channel_configure, channel_test
from crm.channels import BY_CODE, CHANNELS
from tenants.access import udn_write_required


class ChannelForm(forms.Form):
    """One channel's settings; the provider's fields are built from its spec (providers.base)."""

    provider = forms.ChoiceField(label=gettext_lazy("Provider"))
    rate_per_second = forms.IntegerField(
        label=gettext_lazy("Messages per second"), min_value=1, max_value=10_000
    )
    enabled = forms.BooleanField(label=gettext_lazy("Enabled"), required=False)

    def __init__(self, data: Any = None, *, channel: str, config: ChannelConfig) -> None:
        spec = SPECS[REAL_PROVIDER[channel]]
        initial = {
            "provider": config.provider,
            "rate_per_second": config.rate_per_second,
            "enabled": config.enabled,
            **{f"setting_{f.name}": config.settings.get(f.name, f.default) for f in spec.settings},
        }
        super().__init__(data, initial=initial, prefix=channel)
        labels = dict(ProviderKind.choices)
        self.fields["provider"].choices = [  # type: ignore[attr-defined]
            (value, labels[value]) for value in (ProviderKind.SANDBOX, spec.provider)
        ]
        for f in spec.settings:
            self.fields[f"setting_{f.name}"] = forms.CharField(
                label=f.label, required=False, max_length=500, help_text=f.help
            )
        for f in spec.secrets:
            widget = forms.Textarea(attrs={"rows": 3}) if "json" in f.name else forms.PasswordInput()
            self.fields[f"secret_{f.name}"] = forms.CharField(
                label=f.label, required=False, max_length=20_000, widget=widget, strip=True
            )
        self.spec = spec

    def change(self) -> ChannelChange:
        data = self.cleaned_data
        return ChannelChange(
            provider=data["provider"],
            settings={f.name: data[f"setting_{f.name}"] for f in self.spec.settings},
            # Blank keeps the saved secret: it is never shown again, so a blank field means "unchanged".
            secrets={f.name: data[f"secret_{f.name}"] for f in self.spec.secrets if data[f"secret_{f.name}"]},
            rate_per_second=data["rate_per_second"],
            enabled=data["enabled"],
        )


@dataclass
class ChannelCard:
    channel: Any
    config: ChannelConfig
    form: ChannelForm
    secrets_set: dict[str, datetime]
    secrets_unreadable: bool

    def secret_fields(self) -> list[tuple[forms.BoundField, datetime | None]]:
        return [(self.form[f"secret_{f.name}"], self.secrets_set.get(f.name)) for f in self.form.spec.secrets]

    def setting_fields(self) -> list[forms.BoundField]:
        return [self.form[f"setting_{f.name}"] for f in self.form.spec.settings]


def _card(channel: str, form: ChannelForm | None = None) -> ChannelCard:
    config = channel_config_get(channel)
    try:
        secrets_set = {name: s.set_at for name, s in secrets_decrypt(config.secrets).items()}
        unreadable = False
    except SecretsUnreadable:
        secrets_set, unreadable = {}, True
    return ChannelCard(
        channel=BY_CODE[channel],
        config=config,
        form=form or ChannelForm(channel=channel, config=config),
        secrets_set=secrets_set,
        secrets_unreadable=unreadable,
    )


def _page(
    request: HttpRequest, *, invalid: tuple[str, ChannelForm] | None = None, status: int = 200
) -> HttpResponse:
    cards = [_card(c.code, invalid[1] if invalid and invalid[0] == c.code else None) for c in CHANNELS]
    return render(request, "campaigns/channels.html", {"cards": cards}, status=status)


def channels_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


def _channel(code: str) -> str:
    if code not in BY_CODE:
        raise Http404
    return code


@require_POST
@udn_write_required
def channel_save(request: HttpRequest, channel: str) -> HttpResponse:
    channel = _channel(channel)
    form = ChannelForm(request.POST, channel=channel, config=channel_config_get(channel))
    if not form.is_valid():
        return _page(request, invalid=(channel, form), status=400)
    try:
        channel_configure(channel=channel, change=form.change(), updated_by=request.user.email)  # type: ignore[union-attr]
    except ChannelError as error:
        form.add_error(None, str(error))
        return _page(request, invalid=(channel, form), status=400)
    messages.success(request, _("%(channel)s settings saved.") % {"channel": BY_CODE[channel].label})
    return redirect("channels")


@require_POST
@udn_write_required
def channel_check(request: HttpRequest, channel: str) -> HttpResponse:
    channel = _channel(channel)
    problem = channel_test(channel=channel)
    label = BY_CODE[channel].label
    if problem is None:
        messages.success(request, _("%(channel)s: connection works.") % {"channel": label})
    else:
        messages.error(
            request,
            _("%(channel)s: the connection failed: %(problem)s") % {"channel": label, "problem": problem},
        )
    return redirect("channels")
