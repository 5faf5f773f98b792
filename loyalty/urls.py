from django.urls import path

from loyalty import views

urlpatterns = [
    path("", views.programme_page, name="loyalty-programme"),
    path("rules/", views.rules_page, name="loyalty-rules"),
    path("rules/add/", views.rule_add, name="loyalty-rule-add"),
    path("rules/validate/", views.rule_validate, name="loyalty-rule-validate"),
    path("rules/<int:pk>/", views.rule_edit, name="loyalty-rule-edit"),
    path("rules/<int:pk>/delete/", views.rule_delete, name="loyalty-rule-delete"),
    path("rules/publish/", views.rules_publish, name="loyalty-rules-publish"),
    path("simulations/new/", views.simulation_new, name="loyalty-simulation-new"),
    path("simulations/<int:pk>/", views.simulation_page, name="loyalty-simulation"),
    path("rewards/", views.rewards_page, name="loyalty-rewards"),
    path("rewards/<int:pk>/", views.reward_edit, name="loyalty-reward-edit"),
    path("rewards/<int:pk>/remove/", views.reward_remove, name="loyalty-reward-remove"),
    path("budget/", views.budget_page, name="loyalty-budget"),
    path("missions/", views.missions_page, name="loyalty-missions"),
    path("missions/<int:pk>/", views.mission_edit, name="loyalty-mission-edit"),
    path("missions/<int:pk>/remove/", views.mission_remove, name="loyalty-mission-remove"),
    path("rankings/", views.rankings_page, name="loyalty-rankings"),
    path("affiliates/<int:pk>/redeem/", views.affiliate_redeem, name="loyalty-redeem"),
    path("affiliates/<int:pk>/adjust/", views.affiliate_adjust, name="loyalty-adjust"),
]
