"""The UDN dashboard's worker heartbeat: "Verificar agora" follows the tick it asked for."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import unquote

import time_machine
from django.utils import timezone

from tenants.models import UDN


def _poll(html: str) -> tuple[str, str]:
    """The badge's next request and its pace, as htmx reads them from the response."""
    url = re.search(r'hx-get="([^"]*)"', html)
    trigger = re.search(r'hx-trigger="([^"]*)"', html)
    assert url and trigger, html
    return unquote(url.group(1)), trigger.group(1)


def test_tick_now_polls_every_second_until_the_worker_answers_then_shows_it(udn_a, marketer, client_for):
    start = timezone.now()
    UDN.objects.filter(pk=udn_a.pk).update(last_tick_at=start - timedelta(minutes=10))
    client = client_for(udn_a, marketer)

    with time_machine.travel(start, tick=False):
        pinged = client.post("/heartbeat/ping/", HTTP_HX_REQUEST="true").content.decode()
    url, pace = _poll(pinged)
    assert pace == "every 1s" and "?after=" in url
    assert 'data-testid="heartbeat-waiting"' in pinged

    with time_machine.travel(start + timedelta(seconds=1), tick=False):
        waiting = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert _poll(waiting) == (url, "every 1s")  # no answer yet: keep asking
    assert 'data-heartbeat="stale"' in waiting

    UDN.objects.filter(pk=udn_a.pk).update(last_tick_at=start + timedelta(seconds=2))  # the worker's tick
    with time_machine.travel(start + timedelta(seconds=3), tick=False):
        answered = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-heartbeat="ok"' in answered
    assert _poll(answered) == ("/heartbeat/", "every 5s")  # back to the usual pace
    assert "heartbeat-waiting" not in answered


def test_tick_now_stops_polling_fast_when_the_worker_never_answers(udn_a, marketer, client_for):
    start = timezone.now()
    UDN.objects.filter(pk=udn_a.pk).update(last_tick_at=None)
    client = client_for(udn_a, marketer)
    with time_machine.travel(start, tick=False):
        url, _pace = _poll(client.post("/heartbeat/ping/", HTTP_HX_REQUEST="true").content.decode())

    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        late = client.get(url, HTTP_HX_REQUEST="true").content.decode()

    assert _poll(late) == ("/heartbeat/", "every 5s")
    assert 'data-testid="heartbeat-no-answer"' in late and 'data-heartbeat="none"' in late
