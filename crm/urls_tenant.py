"""A UDN's space: <udn>.localhost."""

from django.urls import path

from crm.urls_common import urlpatterns as common
from crm.views import dashboard

urlpatterns = [
    path("", dashboard.home, name="home"),
    path("heartbeat/", dashboard.heartbeat, name="heartbeat"),
    path("heartbeat/ping/", dashboard.heartbeat_ping, name="heartbeat-ping"),
    *common,
]
