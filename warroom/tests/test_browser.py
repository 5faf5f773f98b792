"""In the browser (the real web process, Debian's chromium): a coordinator creates a cross-sell
campaign from a day on the calendar; an action dragged across the board's columns shows in a
second browser context without reloading."""

from __future__ import annotations

from datetime import date

import pytest

from tenants.models import UDN
from tenants.tests.factories import PASSWORD, make_user
from warroom.models import Action, JointCampaign

pytestmark = [pytest.mark.browser]


def _sign_in(page, base: str, email: str, next_path: str) -> None:
    page.goto(f"{base}/accounts/login/?next={next_path}")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{next_path}")


def test_a_cross_sell_campaign_created_from_the_calendar(page, web_server, committed):
    alpha, beta = UDN.objects.get(slug="alpha"), UDN.objects.get(slug="beta")
    user = make_user("coord.browser@shared.test", is_coordinator=True)
    committed.append(user.delete)
    committed.append(lambda: JointCampaign.objects.filter(name="Cross browser").delete())
    base = f"http://localhost:{web_server}"
    _sign_in(page, base, user.email, "/warroom/calendar/")
    day = date.today().replace(day=15)
    page.click(f".fc-daygrid-day[data-date='{day.isoformat()}']")
    page.wait_for_url(f"{base}/warroom/campaigns/new/?start={day.isoformat()}")
    assert page.input_value("#id_start_date") == day.isoformat()
    page.fill("#id_name", "Cross browser")
    page.select_option("#id_promoting_udn", str(beta.pk))
    page.check(f"input[name=sources][value='{alpha.pk}']")
    page.select_option("#id_channel", "email")
    page.fill("#id_subject", "Conheça")
    page.click("[data-testid=joint-save]")
    page.wait_for_url(f"{base}/warroom/campaigns/*/")
    assert page.locator("[data-testid=joint-status]").get_attribute("data-status") == "draft"
    page.goto(f"{base}/warroom/calendar/")
    campaign = JointCampaign.objects.get(name="Cross browser")
    page.locator(f"[data-testid=calendar-event][data-key='joint-{campaign.pk}']").first.wait_for()


def test_an_action_dragged_across_columns_shows_in_another_browser_without_reloading(
    browser, page, web_server, committed
):
    from warroom.services.board import ActionDraft, action_save, board_columns_ensure

    alpha = UDN.objects.get(slug="alpha")
    user = make_user("coord.quadro@shared.test", is_coordinator=True)
    committed.append(user.delete)
    columns = board_columns_ensure()
    action = action_save(draft=ActionDraft(title="Arrastar no quadro", udns=[alpha]), by=user)
    committed.append(action.delete)
    base = f"http://localhost:{web_server}"
    _sign_in(page, base, user.email, "/warroom/board/")
    other_context = browser.new_context(locale="pt-BR", viewport={"width": 1280, "height": 800})
    other = other_context.new_page()
    try:
        _sign_in(other, base, user.email, "/warroom/board/")
        source = f"[data-testid=column][data-column='{columns[0].pk}'] [data-action='{action.pk}']"
        other.locator(source).wait_for()
        card = page.locator(f"{source} .badge").first  # not the title: a link opens the action
        target = page.locator(f"[data-testid=column][data-column='{columns[1].pk}'] .wr-cards")
        box, goal = card.bounding_box(), target.bounding_box()
        assert box and goal
        page.mouse.move(box["x"] + 20, box["y"] + 10)
        page.mouse.down()
        page.mouse.move(box["x"] + 40, box["y"] + 30, steps=5)
        page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + 20, steps=20)
        page.mouse.up()
        moved = f"[data-testid=column][data-column='{columns[1].pk}'] [data-action='{action.pk}']"
        # The other browser never reloads: its htmx poll brings the change.
        other.locator(moved).wait_for(timeout=15_000)
        assert Action.objects.get(pk=action.pk).column_id == columns[1].pk
    finally:
        other_context.close()


def test_an_entrys_conflicts_open_in_its_popover_and_the_keyboard_reschedules_it(page, web_server, committed):
    from warroom.tests.helpers import joint

    alpha, beta = UDN.objects.get(slug="alpha"), UDN.objects.get(slug="beta")
    user = make_user("coord.popover@shared.test", is_coordinator=True)
    committed.append(user.delete)
    committed.append(lambda: JointCampaign.objects.filter(name__startswith="Popover ").delete())
    first = date.today().replace(day=1)
    tight = [
        joint(by=user, name=f"Popover {n}", promoting=beta, sources=[alpha], start=first.replace(day=10 + n))
        for n in range(2)
    ]
    alone = joint(
        by=user, name="Popover sozinha", promoting=beta, sources=[alpha], start=first.replace(day=24)
    )
    base = f"http://localhost:{web_server}"
    _sign_in(page, base, user.email, "/warroom/calendar/")
    event = page.locator(f"[data-testid=calendar-event][data-key='joint-{tight[0].pk}']").first
    event.wait_for()
    assert event.get_attribute("data-conflicts") == "1"  # the count only: texts come on demand
    # The keyboard: the event takes the focus, Enter opens its popover with the conflict's text.
    event.focus()
    page.keyboard.press("Enter")
    popover = page.locator("[data-testid=entry-popover]")
    popover.locator("[data-testid=entry-conflict]").first.wait_for()
    assert "Popover 0" in popover.inner_text() and "Popover 1" in popover.inner_text()
    assert page.evaluate("document.activeElement.id") == "wr-entry-title"
    page.keyboard.press("Escape")
    assert popover.is_hidden()
    assert page.evaluate("document.activeElement.dataset.key") == f"joint-{tight[0].pk}"
    # Rescheduling from the popover without a drag: "+ 1 day", back on the calendar.
    page.locator(f"[data-testid=calendar-event][data-key='joint-{alone.pk}']").first.click()
    popover.locator("[data-testid=entry-no-conflicts]").wait_for()
    popover.locator("[data-testid=move-later]").click()
    page.wait_for_url(f"{base}/warroom/calendar/")
    alone.refresh_from_db()
    assert alone.start_date == first.replace(day=25)


def test_the_calendars_arrows_are_labelled_in_portuguese_without_the_icon_font(page, web_server, committed):
    user = make_user("coord.arrows@shared.test", is_coordinator=True)
    committed.append(user.delete)
    base = f"http://localhost:{web_server}"
    _sign_in(page, base, user.email, "/warroom/calendar/")
    prev, next_ = page.locator(".fc-prev-button"), page.locator(".fc-next-button")
    prev.wait_for()
    # FullCalendar's icons are a font in a data: URI, refused by the CSP: empty squares.
    assert page.locator(".fc-prev-button .fc-icon, .fc-next-button .fc-icon").count() == 0
    assert (prev.inner_text(), next_.inner_text()) == ("‹ Anterior", "Próximo ›")
    title = page.locator(".fc-toolbar-title").inner_text()
    next_.click()
    page.wait_for_function("t => document.querySelector('.fc-toolbar-title').textContent !== t", arg=title)
