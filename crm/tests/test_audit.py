"""The audit log: every write records who did it (a person, an API key, a command, an import run
for whoever queued it) and when, in its UDN's log; the affiliate page shows its history, the
audit page and the admin let people search it, and one UDN's log is not another's."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django_tenants.utils import tenant_context

from crm.models import Affiliate, ApiKey, AuditEntry, ConsentChange, ImportJob, ImportStatus
from crm.services.events import EventInput, events_ingest
from crm.tasks import imports as import_tasks
from crm.tests.helpers import UGLY, Api, make_key
from tenants.actors import SYSTEM_ACTOR, Actor, actor_bound, audit_actor
from tenants.models import User

WRITE_SCOPES = ["affiliates:read", "affiliates:write", "events:write"]
T0 = datetime(2025, 3, 10, 15, 30, tzinfo=UTC)  # 12:30 in São Paulo


def entries(udn, **filters) -> list[AuditEntry]:
    with tenant_context(udn):
        return list(AuditEntry.objects.filter(**filters).order_by("at", "id"))


def test_a_marketers_ui_writes_are_recorded_as_that_person(udn_a, marketer, client_for):
    client = client_for(udn_a, marketer)

    new_key = client.post("/api-keys/new/", {"name": "Backend do app", "scopes": ["events:write"]})
    assert new_key.status_code in (201, 302)
    with tenant_context(udn_a):
        key_pk = AuditEntry.objects.get(action="api_key.created").target_id
    assert client.post(f"/api-keys/{key_pk}/revoke/").status_code == 302
    created = client.post(
        "/webhooks/new/", {"url": "http://127.0.0.1:9/hook", "events": ["affiliate.stage_changed"]}
    )
    assert created.status_code in (200, 201, 302)

    log = entries(udn_a)
    assert [e.action for e in log] == ["api_key.created", "api_key.revoked", "webhook.subscribed"]
    for entry in log:
        assert (entry.actor_kind, entry.actor_id, entry.actor_label) == (
            "user",
            str(marketer.pk),
            marketer.email,
        )
        assert entry.ip == "127.0.0.1"
    assert log[0].changes["name"] == "Backend do app" and log[0].changes["scopes"] == ["events:write"]
    assert log[2].changes == {"url": "http://127.0.0.1:9/hook", "events": ["affiliate.stage_changed"]}
    assert audit_actor() == SYSTEM_ACTOR  # the request's actor did not outlive it


def test_api_writes_are_recorded_as_the_key_and_consent_rows_point_at_their_entry(udn_a):
    api = Api(udn_a, make_key(udn_a, WRITE_SCOPES, name="Parceiro X"))

    created = api.post("/api/v1/affiliates/", {"external_id": "N-1", "name": "Ana Souza", "state": "SP"})
    assert created.status_code == 201
    pk = created.json()["id"]
    changed = api.client.patch(
        f"/api/v1/affiliates/{pk}/",
        '{"city": "Campinas"}',
        content_type="application/json",
        **api.headers,
    )
    assert changed.status_code == 200
    consent = api.post(
        f"/api/v1/affiliates/{pk}/consent/",
        {"channel": "email", "granted": False, "source": "app", "proof": "opt-out no app"},
    )
    assert consent.status_code in (200, 201)

    log = entries(udn_a, target_type="affiliate")
    assert [e.action for e in log] == ["affiliate.created", "affiliate.updated", "consent.revoked"]
    with tenant_context(udn_a):
        key_id = str(ApiKey.objects.get(name="Parceiro X").pk)
    for entry in log:
        assert entry.actor_kind == "api_key" and entry.actor_label.startswith("Parceiro X (")
        assert entry.actor_id == key_id and entry.target_type == "affiliate" and entry.target_id == str(pk)
    assert log[1].changes["fields"] == {"city": ["", "Campinas"]}
    with tenant_context(udn_a):
        ledger = ConsentChange.objects.select_related("audit_entry").get(affiliate_id=pk)
    assert ledger.audit_entry.pk == log[2].pk  # the LGPD proof says who recorded it
    assert ledger.audit_entry.actor_kind == "api_key"
    assert audit_actor() == SYSTEM_ACTOR


def test_a_batch_is_one_entry_summing_it_up(udn_a):
    api = Api(udn_a, make_key(udn_a, WRITE_SCOPES, name="Parceiro X"))
    records = [{"external_id": f"B-{i}", "name": f"Pessoa {i}"} for i in range(50)] + [{"name": ""}]
    assert api.post("/api/v1/affiliates/bulk/", records).status_code in (200, 207)
    with tenant_context(udn_a), actor_bound(Actor(kind="system", label="teste")):
        people = list(Affiliate.objects.order_by("id"))
        outcomes = events_ingest(
            items=[
                EventInput(
                    event_id=f"e-{i}",
                    type="lead_created",
                    occurred_at=T0 + timedelta(seconds=i),
                    affiliate_id=people[i % len(people)].pk,
                )
                for i in range(1000)
            ],
            source="bench",
        )
    assert outcomes.tally()["accepted"] == 1000

    upserted, ingested = (
        entries(udn_a, action="affiliates.upserted"),
        entries(udn_a, action="events.ingested"),
    )
    assert len(upserted) == 1 and len(ingested) == 1
    assert upserted[0].actor_kind == "api_key"
    assert {k: upserted[0].changes[k] for k in ("records", "accepted", "rejected", "created")} == {
        "records": 51,
        "accepted": 50,
        "rejected": 1,
        "created": 50,
    }
    assert ingested[0].actor_label == "teste" and ingested[0].changes["accepted"] == 1000
    assert ingested[0].changes["affiliates"] == 50 and ingested[0].target_id == ""


def test_an_import_run_acts_for_the_person_who_queued_it(
    udn_a, marketer, client_for, settings, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    client = client_for(udn_a, marketer)
    uploaded = client.post("/imports/upload/", {"file": SimpleUploadedFile("base.csv", UGLY.read_bytes())})
    assert uploaded.status_code == 302
    with tenant_context(udn_a):
        job = ImportJob.objects.get()
        mapping = job.mapping
    sent = []
    monkeypatch.setattr(import_tasks.import_run, "delay", lambda *args: sent.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/imports/{job.pk}/mapping/", {f"col-{i}": t for i, t in enumerate(mapping.values())})
        client.post(f"/imports/{job.pk}/preview/")
    assert len(sent) == 1
    marketer_now = Actor(kind="user", id=str(marketer.pk), label=marketer.email, ip="127.0.0.1")
    assert sent[0][2] == marketer_now.as_dict()  # the actor travels in the task's arguments
    import_tasks.import_run(*sent[0])  # what the worker runs, with those arguments

    with tenant_context(udn_a):
        job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    log = entries(udn_a, target_type="import", target_id=str(job.pk))
    assert [e.action for e in log][:1] == ["import.created"]
    assert [e.action for e in log][-3:] == ["import.queued", "import.started", "import.finished"]
    assert {(e.actor_kind, e.actor_label) for e in log} == {("user", marketer.email)}
    assert log[-1].changes["created"] == job.created and log[-1].changes["rejected"] == job.rejected
    # One entry for the whole file, not one per affiliate it wrote.
    assert len(entries(udn_a, target_type="affiliate")) == 0


def test_commands_record_themselves(udn_a, tmp_path):
    path = tmp_path / "base.csv"
    path.write_bytes(UGLY.read_bytes())
    call_command("import_affiliates", "--udn", "alpha", str(path), stdout=io.StringIO())
    call_command(
        "create_api_key",
        "--udn",
        "alpha",
        "--scopes",
        "events:write",
        "--name",
        "Cron",
        stdout=io.StringIO(),
    )

    log = entries(udn_a)
    imports = [e for e in log if e.target_type == "import"]
    assert [e.action for e in imports] == [
        "import.created",
        "import.mapping_saved",
        "import.started",
        "import.finished",
    ]
    assert {(e.actor_kind, e.actor_label) for e in imports} == {("import", "manage.py import_affiliates")}
    key = [e for e in log if e.action == "api_key.created"]
    assert [(e.actor_kind, e.actor_label) for e in key] == [("system", "manage.py create_api_key")]
    assert audit_actor() == SYSTEM_ACTOR


def test_the_affiliate_page_shows_its_history_newest_first_in_portuguese(udn_a, marketer, client_for):
    api = Api(udn_a, make_key(udn_a, WRITE_SCOPES, name="Parceiro X"))
    with time_machine.travel(T0, tick=False):
        pk = api.post("/api/v1/affiliates/", {"external_id": "N-1", "name": "Ana Souza"}).json()["id"]
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        api.post(
            f"/api/v1/affiliates/{pk}/consent/", {"channel": "whatsapp", "granted": True, "source": "app"}
        )
    with tenant_context(udn_a):
        other = Affiliate.objects.create(external_id="N-2", name="Bruno")
        api.post(
            f"/api/v1/affiliates/{other.pk}/consent/", {"channel": "sms", "granted": True, "source": "app"}
        )

    html = client_for(udn_a, marketer).get(f"/affiliates/{pk}/").content.decode()
    history = html.split('data-testid="history-card"')[1].split("</section>")[0]
    assert "2 alterações" in history
    assert history.index("Consentimento concedido") < history.index("Afiliado criado")  # newest first
    assert "11/03/2025 12:30" in history and "10/03/2025 12:30" in history  # dd/mm/aaaa hh:mm, UDN time
    assert "Parceiro X" in history and "WhatsApp" in history
    assert history.count('data-testid="audit-entry"') == 2  # not the other affiliate's


def test_the_affiliate_history_is_paginated(udn_a, marketer, client_for):
    with tenant_context(udn_a):
        ana = Affiliate.objects.create(external_id="N-1", name="Ana Souza")
        AuditEntry.objects.bulk_create(
            AuditEntry(
                at=T0 + timedelta(minutes=i),
                actor_kind="system",
                action="affiliate.updated",
                target_type="affiliate",
                target_id=str(ana.pk),
                changes={"fields": {"city": [str(i), str(i + 1)]}},
            )
            for i in range(25)
        )
    client = client_for(udn_a, marketer)
    first = client.get(f"/affiliates/{ana.pk}/").content.decode()
    second = client.get(f"/affiliates/{ana.pk}/?history=2").content.decode()
    assert first.count('data-testid="audit-entry"') == 20 and second.count('data-testid="audit-entry"') == 5
    assert "24 → 25" in first and "0 → 1" in second and "Página 1 de 2" in first


def test_analysts_read_the_audit_page_but_cannot_change_it(udn_a, marketer, analyst, client_for):
    client_for(udn_a, marketer).post("/api-keys/new/", {"name": "Backend", "scopes": ["events:write"]})
    client = client_for(udn_a, analyst)

    page = client.get("/audit/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Auditoria" in html and "Chave de API criada" in html and marketer.email in html
    assert (
        client.get("/audit/", {"actor_kind": "api_key"}).content.decode().count('data-testid="audit-entry"')
        == 0
    )
    assert client.get("/audit/", {"q": "marina"}).content.decode().count('data-testid="audit-entry"') == 1
    assert client.get("/audit/", {"action": "nope"}).content.decode().count('data-testid="audit-entry"') == 0
    assert client.post("/audit/").status_code == 405
    # Nor can an analyst write (so leave an entry) through the pages that write.
    assert client.post("/api-keys/new/", {"name": "X", "scopes": ["events:write"]}).status_code == 403
    assert len(entries(udn_a)) == 1


def test_the_audit_page_filters_by_period_in_the_udns_days(udn_a, marketer, client_for):
    tz = ZoneInfo(udn_a.time_zone)
    with tenant_context(udn_a):
        for day in (9, 10, 11):
            AuditEntry.objects.create(
                at=datetime(2025, 3, day, 23, 30, tzinfo=tz), actor_kind="system", action=f"x.day{day}"
            )
    html = (
        client_for(udn_a, marketer)
        .get("/audit/", {"since": "2025-03-10", "until": "2025-03-10"})
        .content.decode()
    )
    assert re.findall(r'data-action="([^"]+)"', html) == ["x.day10"]


def test_one_udns_audit_is_not_visible_from_another(udn_a, udn_b, marketer, outsider, client_for):
    client_for(udn_a, marketer).post("/api-keys/new/", {"name": "Segredo de A", "scopes": ["events:write"]})
    assert len(entries(udn_a, action="api_key.created")) == 1
    assert entries(udn_b) == []  # each UDN's log is in its own schema

    on_b = client_for(udn_b, outsider).get("/audit/").content.decode()
    assert "Segredo de A" not in on_b and marketer.email not in on_b
    assert client_for(udn_a, outsider).get("/audit/").status_code == 403


def test_the_admin_browses_one_udns_log_at_a_time(udn_a, udn_b, marketer, client_for):
    client_for(udn_a, marketer).post("/api-keys/new/", {"name": "Segredo de A", "scopes": ["events:write"]})
    admin = client_for(
        None, User.objects.create_superuser(email="root@shared.test", password="x-Senha-forte-123")
    )

    first = admin.get("/admin/crm/auditentry/")
    assert first.status_code == 302 and "udn=" in first.url
    on_a = admin.get("/admin/crm/auditentry/", {"udn": "alpha"})
    on_b = admin.get("/admin/crm/auditentry/", {"udn": "beta"})
    assert on_a.status_code == on_b.status_code == 200
    assert marketer.email in on_a.content.decode() and marketer.email not in on_b.content.decode()
    searched = admin.get("/admin/crm/auditentry/", {"udn": "alpha", "q": "nobody@x"}).content.decode()
    assert marketer.email not in searched
    with tenant_context(udn_a):
        pk = AuditEntry.objects.get().pk
    assert admin.get(f"/admin/crm/auditentry/{pk}/change/").status_code == 404
    assert admin.post("/admin/crm/auditentry/add/").status_code == 403
    assert admin.get("/admin/crm/auditentry/", {"udn": "nowhere"}).status_code == 404


def test_the_audit_page_reads_in_portuguese_field_status_and_actor_labels(udn_a, marketer, client_for):
    """Column mappings name the fields (not "uf → state"), statuses read as words, the system's
    entries show its badge once, and the filters say "Importação" and "Chave de API"."""
    with tenant_context(udn_a):
        AuditEntry.objects.create(
            actor_kind="system",
            actor_label="system",
            action="import.started",
            target_type="import",
            changes={
                "mapping": {"uf": "state", "nome": "name", "obs": "attr:obs", "x": ""},
                "status": "running",
            },
        )
    html = client_for(udn_a, marketer).get("/audit/").content.decode()
    row = re.search(r'<tr data-testid="audit-entry".*?</tr>', html, flags=re.S).group(0)

    assert (
        "uf → UF" in row and "nome → Nome" in row and "obs → obs (atributo)" in row and "x → ignorada" in row
    )
    assert "→ state" not in row and "running" not in row and "Em andamento" in row
    assert "Sistema</span> </td>" in re.sub(r"\s+", " ", row) and "system" not in row.split("</td>")[1]
    assert '<option value="import">Importação</option>' in html.replace(" selected", "")
    assert '<option value="api_key">Chave de API</option>' in html.replace(" selected", "")


def test_audit_details_show_a_cpf_by_the_cpf_policy(udn_a, marketer, analyst, client_for):
    """An API change to a CPF: analysts read it masked on the affiliate's history and the audit page
    (as everywhere else), marketers in full."""
    api = Api(udn_a, make_key(udn_a, WRITE_SCOPES, name="Parceiro X"))
    pk = api.post("/api/v1/affiliates/", {"external_id": "N-1", "name": "Ana Souza", "cpf": "52998224725"})
    pk = pk.json()["id"]
    changed = api.client.patch(
        f"/api/v1/affiliates/{pk}/", '{"cpf": "11144477735"}', content_type="application/json", **api.headers
    )
    assert changed.status_code == 200
    assert entries(udn_a, action="affiliate.updated")[0].changes["fields"]["cpf"] == [
        "52998224725",
        "11144477735",
    ]

    for page in (f"/affiliates/{pk}/", "/audit/"):
        seen = client_for(udn_a, analyst).get(page).content.decode()
        rows = "".join(re.findall(r'<tr data-testid="audit-entry".*?</tr>', seen, flags=re.S))
        assert "***.982.247-** → ***.444.777-**" in rows, page
        assert "52998224725" not in seen and "529.982.247-25" not in seen and "111.444.777-35" not in seen
        assert "11144477735" not in seen
        full = client_for(udn_a, marketer).get(page).content.decode()
        assert "529.982.247-25 → 111.444.777-35" in full, page
