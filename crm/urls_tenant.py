"""A UDN's space: <udn>.localhost."""

from django.urls import path

from crm import views
from crm.urls_common import urlpatterns as common

urlpatterns = [
    path("", views.home, name="home"),
    path("heartbeat/", views.heartbeat, name="heartbeat"),
    path("heartbeat/ping/", views.heartbeat_ping, name="heartbeat-ping"),
    *common,
]
