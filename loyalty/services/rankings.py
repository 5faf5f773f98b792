"""Rankings: affiliates by points earned in a period (earn, bonus and reversals count; redeeming
does not lower a rank), overall or within a city or a plan. Ties share a position (RANK()).
The daily job stores positions and alerts who climbed into or fell out of the top N."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from crm.models import Affiliate
from loyalty.models import LedgerEntry, RankingPosition
from loyalty.services.earning import programme_get

GROUPS = ("overall", "city", "plan")
COUNTED_KINDS = ("earn", "bonus", "reverse")


def ranking(
    *, start: datetime, end: datetime, by: str = "overall", value: str = "", limit: int = 50
) -> list[dict[str, object]]:
    """[{position, affiliate_id, name, city, plan, points}] best first; equal points, equal position."""
    if by not in GROUPS:
        raise ValueError(by)
    where = ""
    params: list[Any] = [start, end, list(COUNTED_KINDS)]
    if by != "overall":
        where = f"AND a.{by} = %s"
        params.append(value)
    sql = f"""
        SELECT rank() OVER (ORDER BY t.points DESC) AS position, a.id, a.name, a.city, a.plan, t.points
        FROM (SELECT affiliate_id, sum(points) AS points FROM {LedgerEntry._meta.db_table}
              WHERE occurred_at >= %s AND occurred_at < %s AND kind = ANY(%s::text[])
              GROUP BY affiliate_id HAVING sum(points) > 0) t
        JOIN {Affiliate._meta.db_table} a ON a.id = t.affiliate_id
        WHERE true {where}
        ORDER BY t.points DESC, a.id
        LIMIT %s"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        return [
            {"position": p, "affiliate_id": i, "name": n, "city": c, "plan": pl, "points": int(pts)}
            for p, i, n, c, pl, pts in cursor.fetchall()
        ]


@transaction.atomic
def ranking_alerts_send(*, now: datetime | None = None, days: int = 30) -> int:
    """Store the overall ranking of the last `days` and alert who entered (climbed into) or fell
    out of the top N since the last run. Returns the number of alerts queued."""
    from loyalty.services.notify import loyalty_message

    now = now or timezone.now()
    programme = programme_get()
    if programme is None:
        return 0
    top_n = programme.ranking_top_n
    rows = ranking(start=now - timedelta(days=days), end=now, limit=top_n)
    before = {p.affiliate_id: p.position for p in RankingPosition.objects.filter(ranking="overall")}
    after = {int(row["affiliate_id"]): int(row["position"]) for row in rows if int(row["position"]) <= top_n}  # type: ignore[call-overload]
    alerts: list[tuple[int, str, dict[str, object]]] = []
    for affiliate_id, position in after.items():
        old = before.get(affiliate_id)
        if old is None or position < old:
            alerts.append((affiliate_id, f"climb:{position}", {"posicao": position}))
    for affiliate_id in set(before) - set(after):
        alerts.append((affiliate_id, "fell", {"posicao": 0}))
    RankingPosition.objects.filter(ranking="overall").delete()
    RankingPosition.objects.bulk_create(
        [
            RankingPosition(ranking="overall", affiliate_id=a, position=p, computed_at=now)
            for a, p in after.items()
        ]
    )
    if not programme.alert_template:
        return 0
    sent = 0
    for affiliate_id, reason, variables in alerts:
        sent += loyalty_message(
            affiliate_id=affiliate_id,
            template_code=programme.alert_template,
            variables=variables,
            dedupe=f"rank:{now.date()}:{reason}",
        )
    return sent
