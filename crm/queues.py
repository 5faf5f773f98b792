"""Celery queue names, shared by the settings (task routes) and the process definitions
(devtools/processes.py): short, frequent work never waits behind work that takes minutes."""

# UDN ticks, webhook and message sending, reaping: each task takes seconds at most.
DEFAULT_QUEUE = "default"
# Imports, lake exports, quality snapshots: may take minutes on a big base.
LONG_QUEUE = "long"

LONG_TASKS = (
    "crm.import_run",
    "crm.lake_export",
    "crm.quality_snapshot",
    # A campaign's fan-out writes up to millions of outbox rows in batches.
    "campaigns.campaign_fan_out",
    # A loyalty simulation replays a period of events (up to a year of millions) through the rules.
    "loyalty.simulate",
    # Insights' full rollup rebuild reads every event of the UDN.
    "insights.rollups_rebuild",
    # ... and the refresh after an import: the days of every affiliate it moved to another origin or plan.
    "insights.rollups_refresh_import",
)
