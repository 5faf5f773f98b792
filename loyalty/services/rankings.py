"""Rankings: affiliates by points earned in a period (earn, bonus and reversals count; redeeming
does not lower a rank), overall or within a city or a plan. Ties share a position (RANK()).
The daily job stores each ranking's top N (overall, per city, per plan) and alerts who climbed
into or within one, or fell out of one."""

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


def top_positions(*, start: datetime, end: datetime, top_n: int) -> dict[str, dict[int, int]]:
    """Every ranking's top N, keyed "overall", "city:<city>", "plan:<plan>" (affiliates without a
    city or plan are only in the overall one): {affiliate_id: position}. One statement; ties share
    a position, so a top N holds everyone tied at N (more than N affiliates)."""
    sql = f"""
        SELECT * FROM (
            SELECT a.id, a.city, a.plan,
                   rank() OVER (ORDER BY t.points DESC) AS overall,
                   rank() OVER (PARTITION BY a.city ORDER BY t.points DESC) AS by_city,
                   rank() OVER (PARTITION BY a.plan ORDER BY t.points DESC) AS by_plan
            FROM (SELECT affiliate_id, sum(points) AS points FROM {LedgerEntry._meta.db_table}
                  WHERE occurred_at >= %s AND occurred_at < %s AND kind = ANY(%s::text[])
                  GROUP BY affiliate_id HAVING sum(points) > 0) t
            JOIN {Affiliate._meta.db_table} a ON a.id = t.affiliate_id) r
        WHERE overall <= %s OR by_city <= %s OR by_plan <= %s"""
    tops: dict[str, dict[int, int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [start, end, list(COUNTED_KINDS), top_n, top_n, top_n])
        for affiliate_id, city, plan, overall, by_city, by_plan in cursor.fetchall():
            for key, position, value in (
                ("overall", overall, "-"),
                (f"city:{city}", by_city, city),
                (f"plan:{plan}", by_plan, plan),
            ):
                if value and position <= top_n:
                    tops.setdefault(key[:140], {})[int(affiliate_id)] = int(position)
    return tops


def _ranking_label(key: str) -> str:
    """What the alert calls the ranking: "geral", or the city or plan's name."""
    return "geral" if key == "overall" else key.split(":", 1)[1]


@transaction.atomic
def ranking_alerts_send(*, now: datetime | None = None, days: int = 30) -> int:
    """Store the top N of the last `days`, overall and in each city and plan, and alert who
    entered or climbed within a top N, or fell out of one, since the last run (variables: the
    position, 0 for a fall, and the ranking: "geral", the city or the plan). Returns the number of
    alerts queued."""
    from loyalty.services.notify import loyalty_message

    now = now or timezone.now()
    programme = programme_get()
    if programme is None:
        return 0
    top_n = programme.ranking_top_n
    tops = top_positions(start=now - timedelta(days=days), end=now, top_n=top_n)
    stored: dict[str, dict[int, int]] = {}
    for kept in RankingPosition.objects.all():
        stored.setdefault(kept.ranking, {})[kept.affiliate_id] = kept.position
    alerts: list[tuple[int, str, dict[str, object]]] = []
    for key in sorted(set(tops) | set(stored)):
        before, after = stored.get(key, {}), tops.get(key, {})
        label = _ranking_label(key)
        for affiliate_id, position in sorted(after.items()):
            old = before.get(affiliate_id)
            if old is None or position < old:
                alerts.append(
                    (affiliate_id, f"{key}:climb:{position}", {"posicao": position, "ranking": label})
                )
        for affiliate_id in sorted(set(before) - set(after)):
            alerts.append((affiliate_id, f"{key}:fell", {"posicao": 0, "ranking": label}))
    RankingPosition.objects.all().delete()
    RankingPosition.objects.bulk_create(
        [
            RankingPosition(ranking=key, affiliate_id=a, position=p, computed_at=now)
            for key, positions in tops.items()
            for a, p in positions.items()
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
