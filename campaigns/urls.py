"""Messaging pages of a UDN's space (included by crm/urls_tenant.py by name, so the CRM core
imports nothing of this app). Each part of messaging adds its pages here: templates, channels,
campaigns, the sandbox outbox, provider hooks."""

from django.urls import URLPattern, URLResolver, path

from campaigns.views import (
    campaigns,
    channels,
    failures,
    hooks,
    journey_editor,
    journeys,
    outbox,
    templates,
    unsubscribe,
)

urlpatterns: list[URLPattern | URLResolver] = [
    # Channels ("Canais") and what the local sandbox received ("Caixa de saída").
    path("channels/", channels.channels_page, name="channels"),
    path("channels/<slug:channel>/", channels.channel_save, name="channel-save"),
    path("channels/<slug:channel>/test/", channels.channel_check, name="channel-test"),
    path("sandbox/outbox/", outbox.sandbox_outbox, name="sandbox-outbox"),
    # Provider callbacks and tracked links: open to the world (tenants.middleware.OPEN_PREFIXES).
    path("hooks/<slug:channel>/", hooks.provider_hook, name="provider-hook"),
    path("r/<str:token>/", hooks.link_redirect, name="message-link-click"),
    # Broadcast campaigns.
    path("campaigns/", campaigns.campaign_list_page, name="campaign-list"),
    path("campaigns/new/", campaigns.campaign_new, name="campaign-new"),
    path("campaigns/audience-count/", campaigns.campaign_audience_count, name="campaign-audience-count"),
    path("campaigns/<int:pk>/", campaigns.campaign_detail, name="campaign-detail"),
    path("campaigns/<int:pk>/edit/", campaigns.campaign_edit, name="campaign-edit"),
    path("campaigns/<int:pk>/launch/", campaigns.campaign_launch_view, name="campaign-launch"),
    path("campaigns/<int:pk>/pause/", campaigns.campaign_pause_view, name="campaign-pause"),
    path("campaigns/<int:pk>/resume/", campaigns.campaign_resume_view, name="campaign-resume"),
    path("campaigns/<int:pk>/cancel/", campaigns.campaign_cancel_view, name="campaign-cancel"),
    path("campaigns/<int:pk>/unschedule/", campaigns.campaign_unschedule_view, name="campaign-unschedule"),
    path("campaigns/<int:pk>/results/", campaigns.campaign_results_page, name="campaign-results"),
    # Journeys ("Jornadas").
    path("journeys/", journeys.journey_list_page, name="journey-list"),
    path("journeys/new/", journeys.journey_new, name="journey-new"),
    path("journeys/<int:pk>/", journeys.journey_detail, name="journey-detail"),
    path("journeys/<int:pk>/counts/", journeys.journey_counts, name="journey-counts"),
    path("journeys/<int:pk>/edit/", journeys.journey_edit, name="journey-edit"),
    path("journeys/<int:pk>/new-step/<str:kind>/", journey_editor.journey_step_new, name="journey-step-new"),
    path(
        "journeys/<int:pk>/steps/<str:step_id>/", journey_editor.journey_step_edit, name="journey-step-edit"
    ),
    path(
        "journeys/<int:pk>/steps/<str:step_id>/delete/",
        journey_editor.journey_step_delete_view,
        name="journey-step-delete",
    ),
    path(
        "journeys/<int:pk>/new-trigger/<str:kind>/",
        journey_editor.journey_trigger_new,
        name="journey-trigger-new",
    ),
    path(
        "journeys/<int:pk>/triggers/<int:index>/",
        journey_editor.journey_trigger_edit,
        name="journey-trigger-edit",
    ),
    path(
        "journeys/<int:pk>/triggers/<int:index>/delete/",
        journey_editor.journey_trigger_delete_view,
        name="journey-trigger-delete",
    ),
    path("journeys/<int:pk>/positions/", journey_editor.journey_positions, name="journey-positions"),
    path("journeys/<int:pk>/publish/", journeys.journey_publish_view, name="journey-publish"),
    path("journeys/<int:pk>/pause/", journeys.journey_pause_view, name="journey-pause"),
    path("journeys/<int:pk>/resume/", journeys.journey_resume_view, name="journey-resume"),
    path("journeys/<int:pk>/archive/", journeys.journey_archive_view, name="journey-archive"),
    # Templates ("Modelos") and the unsubscribe link of e-mails (open: tenants.middleware).
    path("templates/", templates.template_list_page, name="template-list"),
    path("templates/new/<slug:channel>/", templates.template_new, name="template-new"),
    path("templates/<int:pk>/", templates.template_edit, name="template-edit"),
    path("templates/<int:pk>/test/", templates.template_test, name="template-test"),
    path("templates/preview/<slug:channel>/", templates.template_preview, name="template-preview"),
    path("templates/affiliates/", templates.template_preview_affiliates_page, name="template-affiliates"),
    path("u/<str:token>/", unsubscribe.unsubscribe, name="unsubscribe"),
    # Messages dead after their retries ("Falhas") and "Reenviar".
    path("messages/failures/", failures.failures_page, name="message-failures"),
    path("messages/failures/resend/", failures.failures_resend, name="message-failures-resend"),
]
