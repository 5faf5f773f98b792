"""A UDN's space: <udn>.localhost."""

from django.urls import include, path

from crm.urls_common import urlpatterns as common
from crm.views import affiliates, api_keys, audit, dashboard, imports, lake, quality, segments, webhooks

urlpatterns = [
    path("", dashboard.home, name="home"),
    path("heartbeat/", dashboard.heartbeat, name="heartbeat"),
    path("heartbeat/ping/", dashboard.heartbeat_ping, name="heartbeat-ping"),
    path("affiliates/", affiliates.affiliate_list_page, name="affiliate-list"),
    path("affiliates/export.csv", affiliates.affiliate_export, name="affiliate-export"),
    path("affiliates/export.xlsx", affiliates.affiliate_export_xlsx, name="affiliate-export-xlsx"),
    path("affiliates/<int:pk>/", affiliates.affiliate_page, name="affiliate-detail"),
    path("segments/", segments.segment_list_page, name="segment-list"),
    path("segments/new/", segments.segment_new, name="segment-new"),
    path("segments/preview/", segments.segment_preview, name="segment-preview"),
    path("segments/<int:pk>/", segments.segment_detail, name="segment-detail"),
    path("segments/<int:pk>/delete/", segments.segment_delete_view, name="segment-delete"),
    path("lake/", lake.lake, name="lake"),
    path("lake/export/", lake.lake_export, name="lake-export"),
    path("imports/", imports.import_list, name="import-list"),
    path("imports/upload/", imports.import_upload, name="import-upload"),
    path("imports/<uuid:pk>/", imports.import_detail, name="import-detail"),
    path("imports/<uuid:pk>/mapping/", imports.import_mapping, name="import-mapping"),
    path("imports/<uuid:pk>/preview/", imports.import_preview_page, name="import-preview"),
    path("imports/<uuid:pk>/cancel/", imports.import_cancel, name="import-cancel"),
    path("imports/<uuid:pk>/retry/", imports.import_retry, name="import-retry"),
    path("imports/<uuid:pk>/discard/", imports.import_discard, name="import-discard"),
    path("imports/<uuid:pk>/rejected.csv", imports.import_rejected_csv, name="import-rejected"),
    path("imports/<uuid:pk>/rejected.xlsx", imports.import_rejected_xlsx, name="import-rejected-xlsx"),
    path("quality/", quality.quality, name="quality"),
    path("quality/status/", quality.quality_status, name="quality-status"),
    path("quality/recompute/", quality.quality_recompute, name="quality-recompute"),
    path("api-keys/", api_keys.api_keys, name="api-keys"),
    path("api-keys/new/", api_keys.api_key_new, name="api-key-new"),
    path("api-keys/<int:pk>/revoke/", api_keys.api_key_revoke_view, name="api-key-revoke"),
    path("webhooks/", webhooks.webhooks, name="webhooks"),
    path("webhooks/new/", webhooks.webhook_new, name="webhook-new"),
    path("webhooks/<int:pk>/toggle/", webhooks.webhook_toggle, name="webhook-toggle"),
    path("webhooks/<int:pk>/rotate-secret/", webhooks.webhook_rotate_secret, name="webhook-rotate-secret"),
    path("webhooks/deliveries/<int:pk>/redeliver/", webhooks.webhook_redeliver, name="webhook-redeliver"),
    path("audit/", audit.audit_page, name="audit"),
    path("api/v1/", include("crm.api.urls")),
    # Messaging (campaigns app): templates, channels, campaigns, the sandbox outbox, provider hooks.
    path("", include("campaigns.urls")),
    # Dashboards (insights app): rollups of the events, by page.
    path("", include("insights.urls")),
    # Loyalty (loyalty app): programme, rules and simulator, rewards, budget, missions, rankings.
    path("loyalty/", include("loyalty.urls")),
    *common,
]

# Under /api/ Django's own error pages answer in the API's JSON format (crm.api.errors).
handler400 = "crm.api.errors.bad_request"
handler403 = "crm.api.errors.permission_denied"
handler404 = "crm.api.errors.page_not_found"
handler500 = "crm.api.errors.server_error"
