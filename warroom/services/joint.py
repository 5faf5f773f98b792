"""Joint and cross-sell campaigns: plan, propose, each source UDN's decision, launch into each
source UDN's schema (through campaigns' services, by name: warroom/udns.py), results back as
counts, and conversions across UDNs matched by keyed CPF hashes only."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.channels import CHANNEL_CODES
from tenants.models import UDN, User
from warroom import udns as bridge
from warroom.activity import activity_params
from warroom.models import (
    Activity,
    CrossSellReach,
    Decision,
    JointCampaign,
    JointKind,
    JointSource,
    JointStatus,
)

#: When a launched broadcast goes out on its first day (the source UDN's time zone).
SEND_TIME = time(10, 0)


@dataclass(frozen=True, kw_only=True)
class JointDraft:
    kind: str
    name: str
    promoting_udn: UDN
    product: str
    channel: str
    subject: str
    body: str
    start_date: date
    end_date: date
    goal: str
    budget: Decimal
    sources: list[UDN]


def _errors(draft: JointDraft) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not draft.name.strip():
        errors.setdefault("name", []).append(_("Give the campaign a name."))
    if draft.kind not in JointKind.values:
        errors.setdefault("kind", []).append(_("Choose a kind."))
    if draft.channel not in CHANNEL_CODES:
        errors.setdefault("channel", []).append(_("Choose a channel."))
    if draft.end_date < draft.start_date:
        errors.setdefault("end_date", []).append(_("The campaign cannot end before it starts."))
    if not draft.sources:
        errors.setdefault("sources", []).append(_("Choose at least one source UDN."))
    if draft.budget < 0:
        errors.setdefault("budget", []).append(_("The budget cannot be negative."))
    return errors


def _log(*, by: User | None, code: str, campaign: JointCampaign, **params: object) -> None:
    """Record who did what (warroom.activity's code, translated when shown)."""
    Activity.objects.create(actor=by, code=code, params=activity_params(**params), campaign=campaign)


@transaction.atomic
def joint_campaign_save(
    *, draft: JointDraft, by: User, campaign: JointCampaign | None = None
) -> JointCampaign:
    """Create or change a campaign before it is launched. Changing what the sources approved
    (channel, dates, message, sources) asks them again."""
    errors = _errors(draft)
    if errors:
        raise ValidationError(errors)
    creating = campaign is None
    if campaign is None:
        campaign = JointCampaign(created_by=by)
    else:
        campaign = JointCampaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status not in (JointStatus.DRAFT, JointStatus.PROPOSED, JointStatus.APPROVED):
            raise ValidationError(_("A campaign can only be changed before it is launched."))
    before = (campaign.channel, campaign.start_date, campaign.end_date, campaign.subject, campaign.body)
    for name in ("kind", "name", "promoting_udn", "product", "channel", "subject", "body", "start_date",
                 "end_date", "goal", "budget"):  # fmt: skip
        setattr(campaign, name, getattr(draft, name))
    campaign.name = campaign.name.strip()
    campaign.save()
    wanted = {udn.pk for udn in draft.sources}
    had = set(campaign.sources.values_list("udn_id", flat=True))
    campaign.sources.exclude(udn_id__in=wanted).delete()
    JointSource.objects.bulk_create([JointSource(campaign=campaign, udn_id=pk) for pk in wanted - had])
    after = (campaign.channel, campaign.start_date, campaign.end_date, campaign.subject, campaign.body)
    if not creating and (before != after or wanted != had) and campaign.status != JointStatus.DRAFT:
        _ask_again(campaign)
    _log(by=by, campaign=campaign, code="campaign_created" if creating else "campaign_changed")
    return campaign


def _ask_again(campaign: JointCampaign) -> None:
    campaign.sources.update(decision=Decision.PENDING, decided_by=None, decided_at=None)
    campaign.status = JointStatus.PROPOSED
    campaign.save(update_fields=["status", "updated_at"])


@transaction.atomic
def joint_campaign_move(*, campaign: JointCampaign, start: date, by: User) -> JointCampaign:
    """Move a campaign to start on `start`, keeping its length (drag on the calendar)."""
    campaign = JointCampaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status not in (JointStatus.DRAFT, JointStatus.PROPOSED, JointStatus.APPROVED):
        raise ValidationError(_("A campaign can only be moved before it is launched."))
    length = campaign.end_date - campaign.start_date
    old = campaign.start_date
    campaign.start_date, campaign.end_date = start, start + length
    campaign.save(update_fields=["start_date", "end_date", "updated_at"])
    if campaign.status == JointStatus.APPROVED:
        _ask_again(campaign)  # the sources approved other dates
    _log(by=by, campaign=campaign, code="campaign_moved", old=old, new=start)
    return campaign


@transaction.atomic
def joint_campaign_propose(*, campaign: JointCampaign, by: User) -> JointCampaign:
    campaign = JointCampaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != JointStatus.DRAFT:
        raise ValidationError(_("Only a draft can be proposed."))
    if not campaign.sources.exists():
        raise ValidationError(_("Choose at least one source UDN."))
    _ask_again(campaign)
    _log(by=by, campaign=campaign, code="campaign_proposed")
    return campaign


@transaction.atomic
def joint_source_decide(
    *, source: JointSource, approve: bool, comment: str, audience_query: str, by: User
) -> JointSource:
    """A source UDN's marketer approves (with the audience they chose inside their UDN: a saved
    filter of their affiliate list, counted there) or declines, with a comment. When every source
    has approved, the campaign is approved."""
    source = JointSource.objects.select_for_update().select_related("campaign", "udn").get(pk=source.pk)
    campaign = JointCampaign.objects.select_for_update().get(pk=source.campaign_id)
    if campaign.status not in (JointStatus.PROPOSED, JointStatus.APPROVED):
        raise ValidationError(_("This campaign is not awaiting decisions."))
    if approve:
        query, count = bridge.udn_call(source.udn, bridge.AUDIENCE_COUNT, query=audience_query)
        source.audience_query, source.audience = query, count
    source.decision = Decision.APPROVED if approve else Decision.DECLINED
    source.comment = comment.strip()
    source.decided_by, source.decided_at = by, timezone.now()
    source.save()
    decisions = set(campaign.sources.values_list("decision", flat=True))
    campaign.status = JointStatus.APPROVED if decisions == {Decision.APPROVED} else JointStatus.PROPOSED
    campaign.save(update_fields=["status", "updated_at"])
    _log(
        by=by,
        campaign=campaign,
        code="source_approved" if approve else "source_declined",
        udn=source.udn.name,
        comment=source.comment,
    )
    return source


def _send_at(campaign: JointCampaign, udn: UDN, now: datetime) -> datetime | None:
    at = datetime.combine(campaign.start_date, SEND_TIME, tzinfo=zoneinfo.ZoneInfo(udn.time_zone))
    return at if at > now else None


def joint_campaign_launch(*, campaign: JointCampaign, by: User, now: datetime | None = None) -> JointCampaign:
    """Create and launch the broadcast inside each approved source UDN's schema (its own audience,
    its consent, caps and quiet hours apply there). Each UDN's launch is its own transaction; a
    launch that stopped half-way can be run again (the UDN side is keyed by this campaign)."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = JointCampaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status != JointStatus.APPROVED:
            raise ValidationError(_("Only a campaign every source UDN approved can be launched."))
    for source in campaign.sources.select_related("udn"):
        result = bridge.udn_call(
            source.udn,
            bridge.LAUNCH,
            key=f"joint-{campaign.pk}",
            name=campaign.name,
            channel=campaign.channel,
            subject=campaign.subject or campaign.name,
            body=campaign.body or campaign.name,
            audience_query=source.audience_query,
            send_at=_send_at(campaign, source.udn, now),
        )
        JointSource.objects.filter(pk=source.pk).update(
            udn_campaign_id=result["id"], udn_campaign_status=result["status"], audience=result["audience"]
        )
    with transaction.atomic():
        statuses = set(campaign.sources.values_list("udn_campaign_status", flat=True))
        campaign.status = JointStatus.SCHEDULED if statuses == {"scheduled"} else JointStatus.RUNNING
        campaign.launched_at = now
        campaign.save(update_fields=["status", "launched_at", "updated_at"])
        _log(by=by, campaign=campaign, code="campaign_launched")
    return campaign


def joint_results_refresh(*, campaign: JointCampaign) -> JointCampaign:
    """Bring back each source's counts (and the keyed hashes of the people reached) and count the
    conversions: people reached by a source who joined the promoting UDN since the launch, matched
    by the keyed hash of the CPF only."""
    campaign = JointCampaign.objects.select_related("promoting_udn").get(pk=campaign.pk)
    if campaign.launched_at is None:
        return campaign
    joined = set(bridge.udn_call(campaign.promoting_udn, bridge.JOINED_SINCE, since=campaign.launched_at))
    finished = True
    for source in campaign.sources.select_related("udn").exclude(udn_campaign_id=None):
        counts = bridge.udn_call(source.udn, bridge.RESULTS, campaign_id=source.udn_campaign_id)
        persons = bridge.udn_call(source.udn, bridge.REACHED_PERSONS, campaign_id=source.udn_campaign_id)
        with transaction.atomic():
            CrossSellReach.objects.bulk_create(
                [CrossSellReach(source=source, person=p) for p in persons], ignore_conflicts=True
            )
            reached = set(CrossSellReach.objects.filter(source=source).values_list("person", flat=True))
            JointSource.objects.filter(pk=source.pk).update(
                udn_campaign_status=counts["status"],
                audience=counts["audience"],
                sent=counts["sent"],
                delivered=counts["delivered"],
                read=counts["read"],
                clicked=counts["clicked"],
                converted=len(reached & joined),
                results_at=timezone.now(),
            )
        finished = finished and counts["status"] in ("done", "cancelled")
    if campaign.status in (JointStatus.SCHEDULED, JointStatus.RUNNING):
        statuses = set(campaign.sources.values_list("udn_campaign_status", flat=True))
        new = (
            JointStatus.DONE
            if finished
            else (JointStatus.SCHEDULED if statuses == {"scheduled"} else JointStatus.RUNNING)
        )
        if new != campaign.status:
            JointCampaign.objects.filter(pk=campaign.pk).update(status=new)
            campaign.status = new
    return campaign


def joint_results_refresh_all() -> int:
    """Refresh every launched campaign still under way, or done within the last 30 days (beat)."""
    since = timezone.now() - timedelta(days=30)
    campaigns = JointCampaign.objects.filter(launched_at__isnull=False).exclude(
        status=JointStatus.DONE, updated_at__lt=since
    )
    count = 0
    for campaign in campaigns.select_related("promoting_udn"):
        joint_results_refresh(campaign=campaign)
        count += 1
    return count
