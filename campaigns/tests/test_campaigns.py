"""Broadcast campaigns: drafts, the set-based fan-out (audience = the list's filter, static guards
per channel of the chain, suppressed rows with their reason, a stable holdout), pause, resume,
cancel, scheduled starts from the beat, and the results (funnel, conversion treated vs holdout
with Newcombe's interval, checked against scipy)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django_tenants.utils import tenant_context
from scipy.stats import binomtest, norm

from campaigns.models import (
    Campaign,
    CampaignHoldout,
    CampaignStatus,
    ChannelConfig,
    Message,
    MessageStatus,
    MessageTemplate,
    SuppressionReason,
)
from campaigns.selectors.campaigns import (
    audience_count,
    campaign_progress,
    campaign_results,
    difference_interval,
    holdout_bucket,
    holdout_bucket_sql,
    wilson_interval,
)
from campaigns.services.campaigns import (
    CampaignDraft,
    _batch,
    campaign_cancel,
    campaign_fan_out,
    campaign_launch,
    campaign_pause,
    campaign_resume,
    campaign_save,
    campaign_unschedule,
    campaigns_due_start,
    campaigns_finish,
)
from campaigns.services.guards import guard_static
from crm.models import Affiliate, ConsentChange, Event
from crm.tests.factories import AffiliateFactory

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def template(channel: str, slug: str | None = None) -> MessageTemplate:
    return MessageTemplate.objects.create(
        slug=slug or f"t-{channel}", name=f"Modelo {channel}", channel=channel, subject="Oi", body_text="Oi"
    )


def draft(**overrides) -> CampaignDraft:
    values = {
        "name": "Campanha de março",
        "audience_query": "",
        "channels": ["email"],
        "templates": {"email": MessageTemplate.objects.get(channel="email")},
    }
    return CampaignDraft(**(values | overrides))


def launched(**overrides) -> Campaign:
    campaign = campaign_save(draft=draft(**overrides), by="marina@alpha.test")
    return campaign_launch(campaign=campaign, now=NOW)


def affiliate(**fields) -> Affiliate:
    values = {"consent_email": True, "consent_whatsapp": False, "consent_sms": False}
    return AffiliateFactory(**(values | fields))


@pytest.fixture
def space(udn_a):
    with tenant_context(udn_a):
        for channel in ("email", "whatsapp", "sms"):
            template(channel)
        yield udn_a


# --- drafts ---------------------------------------------------------------------------------------


def test_a_draft_counts_the_audience_the_list_filter_names(space):
    for _ in range(3):
        affiliate(state="SP")
    affiliate(state="RJ")
    campaign = campaign_save(draft=draft(audience_query="?state=SP&page=2&sort=-name"), by="m")
    assert campaign.audience_query == "state=SP"  # page and order are not part of an audience
    assert campaign.audience_count == 3
    assert campaign.status == CampaignStatus.DRAFT


def test_a_bad_filter_is_refused_rather_than_reaching_the_whole_base(space):
    affiliate(state="SP")
    with pytest.raises(ValidationError) as caught:
        campaign_save(draft=draft(audience_query="state=XX"), by="m")
    assert "audience_query" in caught.value.message_dict


def test_each_channel_needs_a_template_of_its_own_channel(space):
    email = MessageTemplate.objects.get(channel="email")
    with pytest.raises(ValidationError) as caught:
        campaign_save(
            draft=draft(channels=["whatsapp", "email"], templates={"whatsapp": email, "email": email}), by="m"
        )
    assert "channels" in caught.value.message_dict
    with pytest.raises(ValidationError):
        campaign_save(draft=draft(channels=["sms"], templates={}), by="m")
    with pytest.raises(ValidationError):
        campaign_save(draft=draft(priority=11), by="m")
    with pytest.raises(ValidationError):
        campaign_save(draft=draft(holdout_percent=60), by="m")


def test_a_launched_campaign_can_no_longer_be_edited(space):
    affiliate()
    campaign = launched()
    with pytest.raises(ValidationError):
        campaign_save(campaign=campaign, draft=draft(name="Outra"), by="m")


# --- fan-out --------------------------------------------------------------------------------------


def test_fan_out_writes_one_message_per_affiliate_of_the_audience(space):
    matching = [affiliate(state="SP") for _ in range(7)]
    affiliate(state="RJ")
    campaign = launched(audience_query="state=SP")
    assert campaign.status == CampaignStatus.FANNING_OUT
    assert campaign_fan_out(campaign_id=campaign.pk, now=NOW, batch=2) == "done"
    campaign.refresh_from_db()
    rows = Message.objects.filter(campaign=campaign)
    assert sorted(rows.values_list("affiliate_id", flat=True)) == sorted(a.pk for a in matching)
    assert campaign.fanned_out == campaign.audience_count == 7
    assert campaign.status == CampaignStatus.SENDING
    message = rows.first()
    assert message.status == MessageStatus.QUEUED
    assert message.due_at == NOW
    assert message.source == "campaign"
    assert message.priority == campaign.priority
    assert len({m.idempotency_key for m in rows}) == 7


def test_fan_out_takes_the_first_channel_that_passes_and_records_the_first_reason_otherwise(space):
    both = affiliate(consent_whatsapp=True, consent_email=True)
    email_only = affiliate(consent_whatsapp=False, consent_email=True)
    whatsapp_no_phone = affiliate(consent_whatsapp=True, phone="", consent_email=True)
    nothing = affiliate(consent_whatsapp=False, consent_email=False)
    no_address = affiliate(consent_whatsapp=True, phone="", consent_email=True, email="")
    opted_out = affiliate(consent_whatsapp=False, consent_email=False)
    ConsentChange.objects.create(
        affiliate=opted_out,
        channel="whatsapp",
        granted=False,
        occurred_at=NOW - timedelta(days=1),
        source="test",
    )
    wa, em = MessageTemplate.objects.get(channel="whatsapp"), MessageTemplate.objects.get(channel="email")
    wa.wa_template_name = "promo_marco"  # an approved template: no 24-hour window needed
    wa.save()
    campaign = launched(channels=["whatsapp", "email"], templates={"whatsapp": wa, "email": em})
    campaign_fan_out(campaign_id=campaign.pk, now=NOW)
    got = {m.affiliate_id: m for m in Message.objects.filter(campaign=campaign)}
    assert (got[both.pk].channel, got[both.pk].fallback, got[both.pk].template_id) == (
        "whatsapp",
        ["email"],
        wa.pk,
    )
    assert (got[email_only.pk].channel, got[email_only.pk].fallback) == ("email", [])
    assert got[email_only.pk].template_id == em.pk
    assert got[whatsapp_no_phone.pk].channel == "email"
    for person, reason in (
        (nothing, SuppressionReason.NO_CONSENT),
        (no_address, SuppressionReason.NO_ADDRESS),
        (opted_out, SuppressionReason.OPTED_OUT),
    ):
        message = got[person.pk]
        assert (message.status, message.reason, message.channel) == (
            MessageStatus.SUPPRESSED,
            reason,
            "whatsapp",
        )
        assert message.due_at is None
    # The same reasons as the one-affiliate guard gives (the first channel's, for the suppressed).
    for person in (nothing, no_address, opted_out):
        person.refresh_from_db()
        assert got[person.pk].reason == guard_static(affiliate=person, channel="whatsapp", template=wa)


def test_a_disabled_channel_is_skipped_for_the_next_one(space):
    person = affiliate(consent_sms=True, consent_email=True)
    ChannelConfig.objects.create(channel="sms", enabled=False)
    sms, em = MessageTemplate.objects.get(channel="sms"), MessageTemplate.objects.get(channel="email")
    campaign = launched(channels=["sms", "email"], templates={"sms": sms, "email": em})
    campaign_fan_out(campaign_id=campaign.pk, now=NOW)
    assert Message.objects.get(campaign=campaign, affiliate=person).channel == "email"
    campaign2 = launched(name="Só SMS", channels=["sms"], templates={"sms": sms})
    campaign_fan_out(campaign_id=campaign2.pk, now=NOW)
    message = Message.objects.get(campaign=campaign2, affiliate=person)
    assert (message.status, message.reason) == (MessageStatus.SUPPRESSED, SuppressionReason.CHANNEL_DISABLED)


def test_whatsapp_free_text_outside_the_window_is_suppressed_with_its_reason(space):
    person = affiliate(consent_whatsapp=True)
    wa = MessageTemplate.objects.get(channel="whatsapp")  # no approved template name: free text
    campaign = launched(channels=["whatsapp"], templates={"whatsapp": wa})
    campaign_fan_out(campaign_id=campaign.pk, now=NOW)
    message = Message.objects.get(campaign=campaign, affiliate=person)
    assert message.reason == SuppressionReason.OUTSIDE_WINDOW


def test_everyone_suppressed_finishes_the_campaign_at_once(space):
    affiliate(consent_email=False)
    campaign = launched()
    campaign_fan_out(campaign_id=campaign.pk, now=NOW)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DONE
    assert campaign_progress(campaign=campaign).percent == 100


def test_a_fan_out_that_died_resumes_after_its_last_committed_batch(space):
    people = sorted(affiliate().pk for _ in range(6))
    campaign = launched()
    # The first batch committed, then the worker died.
    assert _batch(campaign_id=campaign.pk, lo=0, hi=people[2], now=NOW)
    assert Message.objects.filter(campaign=campaign).count() == 3
    assert campaign_fan_out(campaign_id=campaign.pk, now=NOW, batch=2) == "done"
    ids = list(Message.objects.filter(campaign=campaign).values_list("affiliate_id", flat=True))
    assert sorted(ids) == people  # each once
    campaign.refresh_from_db()
    assert campaign.fanned_out == 6
    # Run again (a duplicate task): nothing more.
    assert campaign_fan_out(campaign_id=campaign.pk, now=NOW) == "not fanning out"
    assert Message.objects.filter(campaign=campaign).count() == 6


def test_the_fan_out_count_equals_the_affiliate_list_count(space, marketer, client_for):
    for n in range(12):
        affiliate(state="SP" if n % 3 else "BA", tags=["vip"] if n % 2 else [])
    query = "state=SP&tag=vip"
    response = client_for(space, marketer).get(f"/affiliates/?{query}")
    shown = int(
        re.search(r'data-testid="result-count" data-count="(\d+)"', response.content.decode()).group(1)
    )
    campaign = launched(audience_query=query, holdout_percent=20)
    campaign_fan_out(campaign_id=campaign.pk, now=NOW)
    campaign.refresh_from_db()
    messages = Message.objects.filter(campaign=campaign).count()
    held = CampaignHoldout.objects.filter(campaign=campaign).count()
    assert shown == audience_count(query=query) == messages + held == campaign.audience_count
    assert held == campaign.holdout_count


# --- holdout --------------------------------------------------------------------------------------


def test_the_holdout_bucket_in_sql_is_the_python_one_value_by_value(space):
    pairs = [(c, a) for c in (1, 7, 123, 99_999) for a in range(1, 400, 7)] + [(2**31 - 1, 2**40)]
    with connection.cursor() as cursor:
        for campaign_id, affiliate_id in pairs:
            cursor.execute(
                f"SELECT {holdout_bucket_sql(campaign_id=campaign_id, affiliate='%s')}", [affiliate_id]
            )
            assert cursor.fetchone()[0] == holdout_bucket(campaign_id=campaign_id, affiliate_id=affiliate_id)


def test_the_holdout_is_stable_and_about_its_share(space):
    for _ in range(300):
        affiliate()
    campaign = launched(holdout_percent=30)
    campaign_fan_out(campaign_id=campaign.pk, now=NOW, batch=50)
    first = set(CampaignHoldout.objects.filter(campaign=campaign).values_list("affiliate_id", flat=True))
    assert 60 <= len(first) <= 120  # 30% of 300 is 90
    assert not Message.objects.filter(campaign=campaign, affiliate_id__in=first).exists()
    expected = {
        a
        for a in Affiliate.objects.values_list("pk", flat=True)
        if holdout_bucket(campaign_id=campaign.pk, affiliate_id=a) < 3000
    }
    assert first == expected
    # Re-running the fan-out from scratch puts the same people in the holdout.
    Message.objects.filter(campaign=campaign).delete()
    CampaignHoldout.objects.filter(campaign=campaign).delete()
    Campaign.objects.filter(pk=campaign.pk).update(
        status=CampaignStatus.FANNING_OUT, fanned_out=0, holdout_count=0
    )
    campaign_fan_out(campaign_id=campaign.pk, now=NOW, batch=77)
    again = set(CampaignHoldout.objects.filter(campaign=campaign).values_list("affiliate_id", flat=True))
    assert again == first


# --- pause, resume, cancel, schedule ---------------------------------------------------------------


def test_pause_holds_queued_messages_and_resume_makes_them_due(space):
    for _ in range(4):
        affiliate()
    campaign = launched()
    campaign_fan_out(campaign_id=campaign.pk, now=NOW)
    one = Message.objects.filter(campaign=campaign).first()
    Message.objects.filter(pk=one.pk).update(status=MessageStatus.SENT, due_at=None)
    campaign_pause(campaign=campaign)
    queued = Message.objects.filter(campaign=campaign, status=MessageStatus.QUEUED)
    assert queued.count() == 3
    assert not queued.filter(due_at__isnull=False).exists()  # the sender claims due rows only
    later = NOW + timedelta(hours=1)
    campaign = campaign_resume(campaign=campaign, now=later)
    assert campaign.status == CampaignStatus.SENDING
    assert set(queued.values_list("due_at", flat=True)) == {later}
    assert Message.objects.get(pk=one.pk).status == MessageStatus.SENT


def test_a_campaign_paused_while_preparing_writes_the_rest_held(space):
    for _ in range(4):
        affiliate()
    campaign = launched()
    campaign_pause(campaign=campaign)
    campaign_fan_out(campaign_id=campaign.pk, now=NOW)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    assert (
        Message.objects.filter(campaign=campaign, status=MessageStatus.QUEUED, due_at__isnull=True).count()
        == 4
    )
    campaign_resume(campaign=campaign, now=NOW)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING
    assert not Message.objects.filter(campaign=campaign, due_at__isnull=True).exists()


def test_cancel_turns_queued_messages_into_cancelled_ones_with_the_reason(space):
    for _ in range(3):
        affiliate()
    affiliate(consent_email=False)
    campaign = launched()
    campaign_fan_out(campaign_id=campaign.pk, now=NOW)
    sent = Message.objects.filter(campaign=campaign, status=MessageStatus.QUEUED).first()
    Message.objects.filter(pk=sent.pk).update(status=MessageStatus.SENT, due_at=None)
    campaign_cancel(campaign=campaign, now=NOW)
    statuses = sorted(Message.objects.filter(campaign=campaign).values_list("status", "reason"))
    assert statuses == sorted(
        [
            (MessageStatus.CANCELLED, SuppressionReason.CAMPAIGN_CANCELLED),
            (MessageStatus.CANCELLED, SuppressionReason.CAMPAIGN_CANCELLED),
            (MessageStatus.SENT, ""),
            (MessageStatus.SUPPRESSED, SuppressionReason.NO_CONSENT),
        ]
    )
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED
    with pytest.raises(ValidationError):
        campaign_resume(campaign=campaign)


def test_a_cancelled_fan_out_stops_writing(space):
    for _ in range(5):
        affiliate()
    campaign = launched()
    campaign_cancel(campaign=campaign, now=NOW)
    assert campaign_fan_out(campaign_id=campaign.pk, now=NOW) == "not fanning out"
    assert not Message.objects.filter(campaign=campaign).exists()


def test_a_scheduled_campaign_starts_from_the_beat_when_its_time_comes(space):
    affiliate()
    at = NOW + timedelta(hours=2)
    campaign = campaign_save(draft=draft(send_at=at), by="m")
    campaign = campaign_launch(campaign=campaign, now=NOW)
    assert campaign.status == CampaignStatus.SCHEDULED
    assert campaigns_due_start(now=NOW + timedelta(hours=1)) == []
    with time_machine.travel(at + timedelta(seconds=5), tick=False):
        assert campaigns_due_start(now=at + timedelta(seconds=5)) == [campaign.pk]
    campaign.refresh_from_db()
    assert (campaign.status, campaign.launched_at) == (CampaignStatus.FANNING_OUT, at + timedelta(seconds=5))
    assert campaigns_due_start(now=at + timedelta(minutes=1)) == []


def test_a_scheduled_campaign_can_go_back_to_draft(space):
    campaign = campaign_launch(
        campaign=campaign_save(draft=draft(send_at=NOW + timedelta(days=1)), by="m"), now=NOW
    )
    campaign = campaign_unschedule(campaign=campaign)
    assert campaign.status == CampaignStatus.DRAFT
    assert campaigns_due_start(now=NOW + timedelta(days=2)) == []


def test_a_sending_campaign_is_done_once_nothing_is_pending(space):
    for _ in range(2):
        affiliate()
    campaign = launched()
    campaign_fan_out(campaign_id=campaign.pk, now=NOW)
    assert campaigns_finish(now=NOW) == 0
    Message.objects.filter(campaign=campaign).update(status=MessageStatus.DELIVERED, due_at=None)
    campaign.refresh_from_db()
    # The progress bar says done at once; the beat records it.
    assert campaign_progress(campaign=campaign).status == CampaignStatus.DONE
    assert campaign_progress(campaign=campaign).percent == 100
    assert campaigns_finish(now=NOW) == 1
    campaign.refresh_from_db()
    assert (campaign.status, campaign.finished_at) == (CampaignStatus.DONE, NOW)


# --- results --------------------------------------------------------------------------------------


def test_results_count_the_funnel_per_channel_and_suppressed_by_reason(space):
    people = [affiliate(consent_sms=True) for _ in range(6)]
    affiliate(consent_sms=False, consent_email=False)
    sms, em = MessageTemplate.objects.get(channel="sms"), MessageTemplate.objects.get(channel="email")
    campaign = launched(channels=["sms", "email"], templates={"sms": sms, "email": em})
    campaign_fan_out(campaign_id=campaign.pk, now=NOW)
    rows = list(Message.objects.filter(campaign=campaign, affiliate__in=people).order_by("pk"))
    for message, status in zip(
        rows,
        [
            MessageStatus.SENT,
            MessageStatus.DELIVERED,
            MessageStatus.READ,
            MessageStatus.CLICKED,
            MessageStatus.FAILED,
        ],
        strict=False,
    ):
        Message.objects.filter(pk=message.pk).update(status=status, due_at=None)
    results = campaign_results(campaign=campaign)
    by_channel = {c.channel: c for c in results.channels}
    assert [c.channel for c in results.channels] == ["sms", "email"]
    assert (
        by_channel["sms"].sent,
        by_channel["sms"].delivered,
        by_channel["sms"].read,
        by_channel["sms"].clicked,
    ) == (4, 3, 2, 1)
    assert (by_channel["sms"].failed, by_channel["sms"].pending) == (1, 1)
    assert results.suppressed_by_reason == [(SuppressionReason.NO_CONSENT, 1)]
    assert results.audience == 7 and results.messages == 7


def test_conversion_compares_treated_and_holdout_within_the_window(space):
    for _ in range(200):
        affiliate()
    campaign = launched(holdout_percent=50, goal_event="cash_in", conversion_window_days=7)
    campaign_fan_out(campaign_id=campaign.pk, now=NOW)
    treated = list(Message.objects.filter(campaign=campaign).values_list("affiliate_id", flat=True))
    held = list(CampaignHoldout.objects.filter(campaign=campaign).values_list("affiliate_id", flat=True))
    events = []
    for n, pk in enumerate(treated[:40]):
        events.append(
            Event(event_id=f"t{n}", affiliate_id=pk, type="cash_in", occurred_at=NOW + timedelta(days=2))
        )
    for n, pk in enumerate(held[:10]):
        events.append(
            Event(event_id=f"h{n}", affiliate_id=pk, type="cash_in", occurred_at=NOW + timedelta(days=1))
        )
    # Outside the window, before the launch, or another event: not conversions.
    events.append(
        Event(event_id="late", affiliate_id=treated[50], type="cash_in", occurred_at=NOW + timedelta(days=8))
    )
    events.append(
        Event(
            event_id="early", affiliate_id=treated[51], type="cash_in", occurred_at=NOW - timedelta(hours=1)
        )
    )
    events.append(
        Event(event_id="other", affiliate_id=treated[52], type="cashout", occurred_at=NOW + timedelta(days=1))
    )
    Event.objects.bulk_create(events)
    conversion = campaign_results(campaign=campaign).conversion
    assert conversion is not None
    assert (conversion.treated, conversion.treated_converted) == (len(treated), 40)
    assert (conversion.holdout, conversion.holdout_converted) == (len(held), 10)
    expected = difference_interval(x1=40, n1=len(treated), x2=10, n2=len(held))
    assert conversion.interval == expected


def test_wilson_intervals_match_scipy():
    for x, n in ((0, 10), (1, 10), (5, 10), (10, 10), (40, 95), (3, 1000), (512, 1024)):
        ci = binomtest(x, n).proportion_ci(confidence_level=0.95, method="wilson")
        low, high = wilson_interval(successes=x, n=n)
        assert low == pytest.approx(ci.low, abs=1e-12)
        assert high == pytest.approx(ci.high, abs=1e-12)


def newcombe_with_scipy(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """Newcombe's method 10 from scipy's Wilson intervals and scipy's normal quantile."""
    a = binomtest(x1, n1).proportion_ci(confidence_level=0.95, method="wilson")
    b = binomtest(x2, n2).proportion_ci(confidence_level=0.95, method="wilson")
    p1, p2 = x1 / n1, x2 / n2
    d = p1 - p2
    return d - ((p1 - a.low) ** 2 + (b.high - p2) ** 2) ** 0.5, d + (
        (a.high - p1) ** 2 + (p2 - b.low) ** 2
    ) ** 0.5


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2"),
    [
        (56, 70, 48, 80),
        (9, 10, 3, 10),
        (6, 7, 2, 7),
        (5, 56, 0, 29),
        (0, 10, 0, 20),
        (10, 10, 0, 20),
        (4120, 90000, 400, 10000),
    ],
)
def test_the_difference_interval_is_newcombes_as_computed_with_scipy(x1, n1, x2, n2):
    interval = difference_interval(x1=x1, n1=n1, x2=x2, n2=n2)
    low, high = newcombe_with_scipy(x1, n1, x2, n2)
    assert interval.low == pytest.approx(low, abs=1e-12)
    assert interval.high == pytest.approx(high, abs=1e-12)
    assert interval.difference == pytest.approx(x1 / n1 - x2 / n2)
    assert norm.ppf(0.975) == pytest.approx(1.959963984540054)


def test_the_difference_interval_reproduces_newcombes_published_example():
    # Newcombe (1998), Statistics in Medicine 17:873-890, table II, example (a): 56/70 - 48/80,
    # method 10: 0.0524 to 0.3339.
    interval = difference_interval(x1=56, n1=70, x2=48, n2=80)
    assert (round(interval.low, 4), round(interval.high, 4)) == (0.0524, 0.3339)
    assert interval.significant
    assert not difference_interval(x1=5, n1=50, x2=4, n2=50).significant
    assert difference_interval(x1=1, n1=0, x2=1, n2=5) is None
