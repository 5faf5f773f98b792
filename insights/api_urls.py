from django.urls import path

from insights import api

urlpatterns = [path("", api.SpendView.as_view(), name="api-spend")]
