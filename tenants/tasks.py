from crm.celery import app
from tenants.services import TICK_TASK, udn_heartbeat_record


@app.task(name=TICK_TASK)
def udn_tick() -> dict[str, object]:
    """Beat's per-UDN tick (runs inside the UDN's schema). Journeys will hang off it."""
    return udn_heartbeat_record()
