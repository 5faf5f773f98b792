"""Joint and cross-sell campaigns: the approval flow, the launch into each source UDN's real
schema, results back as counts, conversions matched across UDNs by the keyed CPF hash, and the
proof that no raw personal data of one UDN is readable from another UDN's schema or the public one."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils.module_loading import import_string
from django_tenants.utils import tenant_context
from validate_docbr import CPF

from crm.persons import cpf_hash
from warroom.models import CrossSellReach, Decision, JointSource, JointStatus
from warroom.services.joint import (
    joint_campaign_launch,
    joint_campaign_propose,
    joint_results_refresh,
    joint_source_decide,
)
from warroom.tests.helpers import joint, udn_model

TAG = "xsell-teste"


def _affiliates(udn, n: int, prefix: str) -> list:
    with tenant_context(udn):
        Affiliate = udn_model("crm.Affiliate")
        return [
            Affiliate.objects.create(
                external_id=f"{prefix}-{i}",
                name=f"Pessoa {prefix} {i}",
                cpf=CPF().generate(),
                email=f"{prefix}{i}@{udn.slug}.pii.test",
                consent_email=True,
                tags=[TAG],
            )
            for i in range(n)
        ]


def _approve(campaign, udn, user, query=f"tag={TAG}"):
    source = JointSource.objects.get(campaign=campaign, udn=udn)
    return joint_source_decide(
        source=source, approve=True, comment="Ok para nós", audience_query=query, by=user
    )


def test_approval_flow_each_source_decides(coordinator, marketer, outsider, udn_a, udn_b, client_for):
    campaign = joint(
        by=coordinator,
        name="Fluxo",
        promoting=udn_b,
        sources=[udn_a, udn_b],
        start=date.today() + timedelta(days=5),
    )
    assert campaign.status == JointStatus.DRAFT
    joint_campaign_propose(campaign=campaign, by=coordinator)
    campaign.refresh_from_db()
    assert campaign.status == JointStatus.PROPOSED
    _affiliates(udn_a, 2, "fl")
    # The marketer of UDN A decides for A only, through the page's form (a direct POST).
    alpha = JointSource.objects.get(campaign=campaign, udn=udn_a)
    beta = JointSource.objects.get(campaign=campaign, udn=udn_b)
    client = client_for(user=marketer)
    response = client.post(
        f"/warroom/campaigns/{campaign.pk}/sources/{alpha.pk}/decide/",
        {"decision": "approve", "audience_query": f"/affiliates/?tag={TAG}&page=2", "comment": "Aprovado"},
    )
    assert response.status_code == 302
    alpha.refresh_from_db()
    assert (alpha.decision, alpha.audience_query, alpha.audience, alpha.comment) == (
        Decision.APPROVED,
        f"tag={TAG}",
        2,
        "Aprovado",
    )
    assert (
        client.post(
            f"/warroom/campaigns/{campaign.pk}/sources/{beta.pk}/decide/", {"decision": "approve"}
        ).status_code
        == 403
    )
    campaign.refresh_from_db()
    assert campaign.status == JointStatus.PROPOSED  # B has not decided
    # B's marketer declines with a comment: still proposed, the decline is shown.
    client_for(user=outsider).post(
        f"/warroom/campaigns/{campaign.pk}/sources/{beta.pk}/decide/",
        {"decision": "decline", "comment": "Base cansada"},
    )
    beta.refresh_from_db()
    assert (beta.decision, beta.comment) == (Decision.DECLINED, "Base cansada")
    campaign.refresh_from_db()
    assert campaign.status == JointStatus.PROPOSED
    with pytest.raises(ValidationError):
        joint_campaign_launch(campaign=campaign, by=coordinator)
    joint_source_decide(source=beta, approve=True, comment="", audience_query=f"tag={TAG}", by=outsider)
    campaign.refresh_from_db()
    assert campaign.status == JointStatus.APPROVED
    # Moving an approved campaign asks the sources again.
    client_for(user=coordinator).post(
        "/warroom/calendar/move/",
        {
            "key": f"joint-{campaign.pk}",
            "date": (date.today() + timedelta(days=40)).isoformat(),
            "confirm": "on",
        },
    )
    campaign.refresh_from_db()
    assert campaign.status == JointStatus.PROPOSED
    assert set(campaign.sources.values_list("decision", flat=True)) == {Decision.PENDING}


def test_launch_creates_the_broadcast_inside_each_source_schema(
    coordinator, marketer, outsider, udn_a, udn_b
):
    _affiliates(udn_a, 3, "la")
    _affiliates(udn_b, 2, "lb")
    campaign = joint(
        by=coordinator,
        name="Lançamento",
        promoting=udn_b,
        sources=[udn_a, udn_b],
        start=date.today() + timedelta(days=3),
    )
    joint_campaign_propose(campaign=campaign, by=coordinator)
    _approve(campaign, udn_a, marketer)
    _approve(campaign, udn_b, outsider)
    joint_campaign_launch(campaign=campaign, by=coordinator)
    campaign.refresh_from_db()
    assert campaign.status == JointStatus.SCHEDULED
    for udn, audience in ((udn_a, 3), (udn_b, 2)):
        source = JointSource.objects.get(campaign=campaign, udn=udn)
        with tenant_context(udn):
            made = udn_model("campaigns.Campaign").objects.get(pk=source.udn_campaign_id)
            assert (made.name, made.status, made.channels, made.audience_query) == (
                "Lançamento",
                "scheduled",
                ["email"],
                f"tag={TAG}",
            )
            assert made.audience_count == audience == source.audience
    # Launching again creates nothing more (keyed by the shared campaign).
    campaign.status = JointStatus.APPROVED
    campaign.save()
    joint_campaign_launch(campaign=campaign, by=coordinator)
    with tenant_context(udn_a):
        assert udn_model("campaigns.Campaign").objects.filter(name="Lançamento").count() == 1


def _reach_everyone(udn, campaign_id: int) -> None:
    """Run the UDN's fan-out (by name) and mark its messages sent, as the sender would."""
    with tenant_context(udn):
        import_string("campaigns.services.campaigns.campaign_fan_out")(campaign_id=campaign_id)
        udn_model("campaigns.Message").objects.filter(campaign_id=campaign_id).update(status="sent")


def test_results_come_back_as_counts_and_conversions_match_by_keyed_hash(coordinator, marketer, udn_a, udn_b):
    people = _affiliates(udn_a, 3, "cv")
    campaign = joint(
        by=coordinator,
        name="Conversão",
        promoting=udn_b,
        sources=[udn_a],
        start=date.today() - timedelta(days=1),
    )
    joint_campaign_propose(campaign=campaign, by=coordinator)
    _approve(campaign, udn_a, marketer)
    joint_campaign_launch(campaign=campaign, by=coordinator)
    source = JointSource.objects.get(campaign=campaign, udn=udn_a)
    _reach_everyone(udn_a, source.udn_campaign_id)
    # One of them becomes a customer of the promoting UDN (same CPF, written there by B).
    with tenant_context(udn_b):
        udn_model("crm.Affiliate").objects.create(
            external_id="novo-1", name="Cliente novo", cpf=people[0].cpf
        )
    joint_results_refresh(campaign=campaign)
    source.refresh_from_db()
    assert (source.audience, source.sent, source.converted) == (3, 3, 1)
    reach = set(CrossSellReach.objects.filter(source=source).values_list("person", flat=True))
    assert reach == {cpf_hash(cpf=p.cpf) for p in people}
    assert not reach.intersection(p.cpf for p in people)


def _text_columns(schema: str) -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns c"
            " JOIN information_schema.tables t USING (table_schema, table_name)"
            " WHERE c.table_schema = %s AND t.table_type = 'BASE TABLE'"
            " AND c.data_type IN ('text', 'character varying', 'jsonb', 'ARRAY')",
            [schema],
        )
        return cursor.fetchall()


def _found_in(schema: str, needles: list[str]) -> list[str]:
    hits = []
    with connection.cursor() as cursor:
        for table, column in _text_columns(schema):
            cursor.execute(
                f'SELECT count(*) FROM "{schema}"."{table}" WHERE "{column}"::text LIKE ANY(%s)',  # noqa: S608
                [[f"%{n}%" for n in needles]],
            )
            if cursor.fetchone()[0]:
                hits.append(f"{schema}.{table}.{column}")
    return hits


def test_no_raw_pii_of_a_source_udn_reaches_the_public_schema_or_another_udn(
    coordinator, marketer, udn_a, udn_b
):
    people = _affiliates(udn_a, 2, "pii")
    campaign = joint(
        by=coordinator,
        name="Prova PII",
        promoting=udn_b,
        sources=[udn_a],
        start=date.today() - timedelta(days=1),
    )
    joint_campaign_propose(campaign=campaign, by=coordinator)
    _approve(campaign, udn_a, marketer)
    joint_campaign_launch(campaign=campaign, by=coordinator)
    source = JointSource.objects.get(campaign=campaign, udn=udn_a)
    _reach_everyone(udn_a, source.udn_campaign_id)
    joint_results_refresh(campaign=campaign)
    needles = [v for p in people for v in (p.cpf, p.email, p.name)]
    # Readable in UDN A's own schema (the test's own check that it looks in the right places) ...
    assert _found_in(udn_a.schema_name, needles)
    # ... and nowhere else: not in the public schema (warroom's tables included), not in UDN B's.
    assert _found_in("public", needles) == []
    assert _found_in(udn_b.schema_name, needles) == []
    assert CrossSellReach.objects.filter(source=source).count() == 2


def test_only_coordinators_create_propose_and_launch(
    marketer, analyst, coordinator, udn_a, udn_b, client_for
):
    campaign = joint(
        by=coordinator,
        name="Permissões",
        promoting=udn_b,
        sources=[udn_a],
        start=date.today() + timedelta(days=9),
    )
    for user in (marketer, analyst):
        client = client_for(user=user)
        assert client.get(f"/warroom/campaigns/{campaign.pk}/").status_code == 200  # involves their UDN
        assert client.get("/warroom/campaigns/new/").status_code == 403
        assert client.post("/warroom/campaigns/new/", {"name": "x"}).status_code == 403
        assert client.post(f"/warroom/campaigns/{campaign.pk}/propose/").status_code == 403
        assert client.post(f"/warroom/campaigns/{campaign.pk}/launch/").status_code == 403
        assert client.post(f"/warroom/campaigns/{campaign.pk}/edit/", {"name": "x"}).status_code == 403
        assert (
            client.post(
                "/warroom/calendar/move/",
                {"key": f"joint-{campaign.pk}", "date": "2030-01-01", "confirm": "on"},
            ).status_code
            == 403
        )
    joint_campaign_propose(campaign=campaign, by=coordinator)
    source = JointSource.objects.get(campaign=campaign, udn=udn_a)
    # The analyst reads but may not decide; neither may a coordinator decide for a UDN.
    for user in (analyst, coordinator):
        response = client_for(user=user).post(
            f"/warroom/campaigns/{campaign.pk}/sources/{source.pk}/decide/", {"decision": "approve"}
        )
        assert response.status_code == 403
    source.refresh_from_db()
    assert source.decision == Decision.PENDING
    assert client_for(user=coordinator).post(f"/warroom/campaigns/{campaign.pk}/propose/").status_code == 302


def test_people_outside_the_campaign_and_strangers_see_nothing(
    outsider, coordinator, udn_a, udn_b, client_for
):
    from tenants.tests.factories import make_user

    campaign = joint(by=coordinator, name="Só alpha", promoting=udn_a, sources=[udn_a], start=date.today())
    assert client_for(user=outsider).get(f"/warroom/campaigns/{campaign.pk}/").status_code == 403
    stranger = make_user("ninguem@fora.test")
    assert client_for(user=stranger).get("/warroom/calendar/").status_code == 403
    assert client_for(user=stranger).get("/warroom/board/").status_code == 403
    assert client_for().get("/warroom/calendar/").status_code == 302  # to sign in
    with pytest.raises(PermissionDenied):
        from warroom.access import viewer_for

        viewer_for(user=stranger)
