from django.urls import path

from loyalty import api

urlpatterns = [
    path("affiliates/<int:pk>/", api.BalanceView.as_view(), name="api-loyalty-balance"),
    path("affiliates/<int:pk>/missions/", api.MissionsView.as_view(), name="api-loyalty-missions"),
    path("rewards/", api.RewardsView.as_view(), name="api-loyalty-rewards"),
    path("redemptions/", api.RedemptionsView.as_view(), name="api-loyalty-redemptions"),
]
