"""Who may do what in the shared space, in one place (the door every view goes through).

Coordinators (and superusers) edit everything; a UDN's marketers see what involves their UDN,
approve or decline for their own UDN and comment; read-only analysts read what involves their UDN.
Anyone else gets PermissionDenied."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from tenants.models import Membership, Role, User
from warroom.models import Action, JointCampaign, JointSource


@dataclass(frozen=True)
class Viewer:
    user: User
    coordinator: bool
    #: UDNs the person belongs to (any role) and those where they are a marketer.
    udn_ids: frozenset[int]
    marketer_udn_ids: frozenset[int]

    @property
    def may_edit(self) -> bool:
        return self.coordinator

    def sees_udns(self, udn_ids: set[int] | frozenset[int] | list[int]) -> bool:
        return self.coordinator or bool(self.udn_ids.intersection(udn_ids))

    def may_decide_for(self, udn_id: int) -> bool:
        return self.user.is_superuser or udn_id in self.marketer_udn_ids


def viewer_for(*, user: AbstractBaseUser | AnonymousUser) -> Viewer:
    """The person as the shared space sees them, or PermissionDenied."""
    if not user.is_authenticated:
        raise PermissionDenied(_("Sign in first."))
    assert isinstance(user, User)
    memberships = list(Membership.objects.filter(user=user).values_list("udn_id", "role"))
    coordinator = bool(user.is_coordinator or user.is_superuser)
    if not coordinator and not memberships:
        raise PermissionDenied(
            _("Only coordinators and UDN members may use the shared space's planning tools.")
        )
    return Viewer(
        user=user,
        coordinator=coordinator,
        udn_ids=frozenset(udn for udn, _role in memberships),
        marketer_udn_ids=frozenset(udn for udn, role in memberships if role == Role.MARKETER),
    )


def edit_check(viewer: Viewer) -> None:
    if not viewer.may_edit:
        raise PermissionDenied(_("Only coordinators may change the plan."))


def joint_campaigns_visible(viewer: Viewer) -> QuerySet[JointCampaign]:
    campaigns = JointCampaign.objects.all()
    if viewer.coordinator:
        return campaigns
    return campaigns.filter(
        Q(promoting_udn_id__in=viewer.udn_ids) | Q(sources__udn_id__in=viewer.udn_ids)
    ).distinct()


def joint_campaign_get(viewer: Viewer, pk: int, *, edit: bool = False) -> JointCampaign:
    if edit:
        edit_check(viewer)
    campaign = joint_campaigns_visible(viewer).select_related("promoting_udn").filter(pk=pk).first()
    if campaign is None:
        raise PermissionDenied(_("You may not see this campaign."))
    return campaign


def joint_source_for_decision(viewer: Viewer, *, campaign_pk: int, source_pk: int) -> JointSource:
    """A source UDN's place in a campaign, for its marketers' decision and audience."""
    source = (
        JointSource.objects.select_related("campaign", "udn")
        .filter(pk=source_pk, campaign_id=campaign_pk)
        .first()
    )
    if source is None or not viewer.may_decide_for(source.udn_id):
        raise PermissionDenied(_("Only the marketers of this UDN may decide for it."))
    return source


def actions_visible(viewer: Viewer) -> QuerySet[Action]:
    actions = Action.objects.all()
    if viewer.coordinator:
        return actions
    return actions.filter(udns__in=viewer.udn_ids).distinct()


def action_get(viewer: Viewer, pk: int, *, edit: bool = False) -> Action:
    if edit:
        edit_check(viewer)
    action = actions_visible(viewer).filter(pk=pk).first()
    if action is None:
        raise PermissionDenied(_("You may not see this action."))
    return action


def action_comment_check(viewer: Viewer, action: Action) -> None:
    """Coordinators, and marketers of a UDN the action involves, may comment."""
    if viewer.coordinator:
        return
    involved = set(action.udns.values_list("pk", flat=True))
    if not involved.intersection(viewer.marketer_udn_ids):
        raise PermissionDenied(_("Only coordinators and the marketers of the UDNs involved may comment."))
