from django.urls import path

from warroom import views

app_name = "warroom"

urlpatterns = [
    path("calendar/", views.calendar_page, name="calendar"),
    path("calendar/events/", views.calendar_events, name="calendar-events"),
    path("calendar/conflicts/", views.calendar_conflicts, name="calendar-conflicts"),
    path("calendar/entries/<str:key>/", views.calendar_entry, name="calendar-entry"),
    path("calendar/move/", views.calendar_move, name="calendar-move"),
    path("calendar/settings/", views.calendar_settings, name="calendar-settings"),
    path("calendar/feed/reset/", views.feed_reset, name="feed-reset"),
    path("calendar/feed/<str:token>.ics", views.feed, name="feed"),
    path("campaigns/new/", views.campaign_edit, name="campaign-new"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign-detail"),
    path("campaigns/<int:pk>/edit/", views.campaign_edit, name="campaign-edit"),
    path("campaigns/<int:pk>/<str:step>/", views.campaign_transition, name="campaign-step"),
    path("campaigns/<int:pk>/sources/<int:source_pk>/decide/", views.source_decide, name="source-decide"),
    path("board/", views.board_page, name="board"),
    path("board/fragment/", views.board_fragment, name="board-fragment"),
    path("board/columns/", views.columns_page, name="columns"),
    path("board/crm-day/", views.crm_day, name="crm-day"),
    path("actions/new/", views.action_edit, name="action-new"),
    path("actions/<int:pk>/", views.action_detail, name="action-detail"),
    path("actions/<int:pk>/edit/", views.action_edit, name="action-edit"),
    path("actions/<int:pk>/move/", views.action_move, name="action-move"),
    path("actions/<int:pk>/checklist/", views.checklist_add, name="checklist-add"),
    path("actions/<int:pk>/checklist/<int:item_pk>/", views.checklist_toggle, name="checklist-toggle"),
    path("actions/<int:pk>/comments/", views.comment_add, name="comment-add"),
    path("actions/<int:pk>/comments/<int:comment_pk>/attachment/", views.attachment, name="attachment"),
]
