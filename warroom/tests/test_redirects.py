"""Moves that go back to a `next` address the form sent: followed only when it is on this host
(tenants.urlhelpers.next_url), never to another site (open redirect)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from warroom.services.board import ActionDraft, action_save, board_columns_ensure
from warroom.tests.helpers import joint

DAY = date(2026, 3, 10)

FOREIGN = [
    "https://evil.example/",
    "//evil.example/path",
    "/\\evil.example",
    "http://localhost/warroom/board/",  # this host, but down to plain HTTP from HTTPS
    "javascript:alert(1)",
]


@pytest.mark.parametrize("target", FOREIGN)
def test_calendar_move_does_not_follow_a_foreign_next(coordinator, udn_a, udn_b, client_for, target):
    campaign = joint(by=coordinator, name="Móvel", promoting=udn_b, sources=[udn_a], start=DAY)
    response = client_for(user=coordinator).post(
        "/warroom/calendar/move/",
        {"key": f"joint-{campaign.pk}", "date": (DAY + timedelta(days=1)).isoformat(), "next": target},
        secure=True,
    )
    assert response.status_code == 302
    assert response["Location"] == f"/warroom/campaigns/{campaign.pk}/"
    campaign.refresh_from_db()
    assert campaign.start_date == DAY + timedelta(days=1)  # the move itself is saved


def test_calendar_move_follows_a_local_next(coordinator, udn_a, udn_b, client_for):
    campaign = joint(by=coordinator, name="Móvel", promoting=udn_b, sources=[udn_a], start=DAY)
    client = client_for(user=coordinator)
    for target in ("/warroom/calendar/?month=2026-03", "https://localhost/warroom/board/"):
        response = client.post(
            "/warroom/calendar/move/",
            {"key": f"joint-{campaign.pk}", "date": DAY.isoformat(), "next": target},
            secure=True,
        )
        assert response["Location"] == target


@pytest.mark.parametrize("target", FOREIGN)
def test_action_move_does_not_follow_a_foreign_next(coordinator, client_for, target):
    column = board_columns_ensure()[1]
    action = action_save(draft=ActionDraft(title="Revisar", team="Marketing", udns=[]), by=coordinator)
    response = client_for(user=coordinator).post(
        f"/warroom/actions/{action.pk}/move/", {"column": column.pk, "next": target}, secure=True
    )
    assert response.status_code == 302
    assert response["Location"] == "/warroom/board/"
    action.refresh_from_db()
    assert action.column_id == column.pk


def test_action_move_follows_a_local_next(coordinator, client_for):
    column = board_columns_ensure()[1]
    action = action_save(draft=ActionDraft(title="Revisar", team="Marketing", udns=[]), by=coordinator)
    response = client_for(user=coordinator).post(
        f"/warroom/actions/{action.pk}/move/",
        {"column": column.pk, "next": f"/warroom/actions/{action.pk}/"},
        secure=True,
    )
    assert response["Location"] == f"/warroom/actions/{action.pk}/"
