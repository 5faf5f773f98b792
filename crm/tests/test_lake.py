"""The data-lake export: Parquet layout and schema, incremental runs, the command, the page."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import fsspec
import psycopg
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils.crypto import salted_hmac
from django_tenants.utils import tenant_context

from crm.models import Affiliate, Event, LakeExport
from crm.persons import CPF_HASH_SALT, cpf_hash
from crm.services import lake as lake_service
from crm.services.lake import AFFILIATE_SCHEMA, EVENT_SCHEMA, lake_export_run
from crm.tasks.lake import lake_export
from crm.tests.factories import AffiliateFactory, EventFactory

# Clock of these tests: in the past of the real clock, so the database's own clock (open
# transactions of other sessions hold the watermark back) never precedes it.
T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # 12:00 in São Paulo
CPF = "52998224725"


def affiliate_make(external_id: str, **fields) -> Affiliate:
    """An affiliate with only the fields given: the export's blank values are tested too."""
    return AffiliateFactory(bare=True, external_id=external_id, name=f"Pessoa {external_id}", **fields)


def event_make(affiliate: Affiliate, occurred_at: datetime, **fields) -> Event:
    return EventFactory(affiliate=affiliate, occurred_at=occurred_at, **fields)  # a cash in by default


def read(root: Path | str, dataset: str, filesystem=None) -> list[dict]:
    data = ds.dataset(f"{root}/{dataset}", format="parquet", partitioning="hive", filesystem=filesystem)
    return sorted(data.to_table().to_pylist(), key=lambda row: row["id"])


def other_session() -> psycopg.Connection:
    """A second, independent session on the test database (as another process would be)."""
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        autocommit=True,
    )


def test_export_round_trips_values_through_parquet_without_the_raw_cpf(
    udn_a, tmp_path, time_machine, monkeypatch
):
    monkeypatch.setattr(lake_service, "BATCH_ROWS", 2)  # several batches, several row groups
    time_machine.move_to(T0, tick=False)
    with tenant_context(udn_a):
        full = affiliate_make(
            "A-1",
            cpf=CPF,
            email="ana@example.com",
            phone="+5511987654321",
            birth_date=date(1990, 5, 17),
            city="São Paulo",
            state="SP",
            plan="Ouro",
            plan_fee=Decimal("89.90"),
            origin="store",
            stage="cash_in",
            tier="Prata",
            total_cash_in=Decimal("1234.56"),
            tags=["vip", "app"],
            consent_email=True,
            consent_push=True,
        )
        bare = affiliate_make("A-2")
        affiliate_make("A-3", cpf="11144477735")
        deposit = event_make(
            full,
            datetime(2026, 3, 9, 18, 30, tzinfo=UTC),
            amount=Decimal("250.75"),
            source="app",
            properties={"method": "pix", "first": True},
        )
        event_make(full, datetime(2026, 3, 9, 19, 0, tzinfo=UTC))
        event_make(bare, datetime(2026, 3, 9, 20, 0, tzinfo=UTC), type="app_downloaded")

        time_machine.shift(60)
        export = lake_export_run(destination=str(tmp_path))

    assert (export.affiliates, export.events, export.error) == (3, 3, "")
    assert export.finished_at is not None and export.watermark == T0 + timedelta(minutes=1)
    assert sorted(export.files) == [
        f"affiliates/udn=alpha/date=2026-03-10/part-{export.pk}.parquet",
        f"events/udn=alpha/date=2026-03-09/part-{export.pk}.parquet",
    ]

    affiliates = read(tmp_path, "affiliates")
    assert [row["external_id"] for row in affiliates] == ["A-1", "A-2", "A-3"]
    first, second = affiliates[0], affiliates[1]
    assert first == {
        "id": full.pk,
        "external_id": "A-1",
        "cpf_hash": salted_hmac(CPF_HASH_SALT, CPF, algorithm="sha256").hexdigest(),
        "name": "Pessoa A-1",
        "email": "ana@example.com",
        "phone": "+5511987654321",
        "birth_date": date(1990, 5, 17),
        "city": "São Paulo",
        "state": "SP",
        "plan": "Ouro",
        "plan_fee": Decimal("89.90"),
        "origin": "store",
        "stage": "cash_in",
        "tier": "Prata",
        "total_cash_in": Decimal("1234.56"),
        "tags": ["vip", "app"],
        "consent_email": True,
        "consent_whatsapp": False,
        "consent_sms": False,
        "consent_push": True,
        "consent_telegram": False,
        "created_at": T0,
        "updated_at": T0,
        "udn": "alpha",
        "date": "2026-03-10",
    }
    # Blank optional fields travel as nulls; a CPF-less affiliate has no hash.
    assert second["cpf_hash"] is None and second["email"] is None and second["birth_date"] is None
    assert second["plan_fee"] is None and second["total_cash_in"] == Decimal("0.00") and second["tags"] == []
    assert affiliates[2]["cpf_hash"] == cpf_hash(cpf="11144477735")

    events = read(tmp_path, "events")
    assert len(events) == 3
    pix = next(row for row in events if row["id"] == deposit.pk)
    assert pix["event_id"] == deposit.event_id
    assert (pix["affiliate_id"], pix["affiliate_external_id"]) == (full.pk, "A-1")
    assert (pix["type"], pix["source"], pix["amount"]) == ("cash_in", "app", Decimal("250.75"))
    assert pix["occurred_at"] == datetime(2026, 3, 9, 18, 30, tzinfo=UTC)
    assert pix["received_at"] == T0
    assert json.loads(pix["properties"]) == {"method": "pix", "first": True}
    assert {row["amount"] for row in events if row["id"] != deposit.pk} == {None}

    # Nothing in the lake is the raw CPF, in any column, or in the file bytes.
    files = [p for p in tmp_path.rglob("*.parquet")]
    assert len(files) == 2
    assert not any(CPF.encode() in p.read_bytes() for p in files)
    assert not any(CPF in str(value) for row in affiliates + events for value in row.values())
    assert "cpf" not in AFFILIATE_SCHEMA.names


def test_files_carry_the_documented_schemas(udn_a, tmp_path, time_machine):
    time_machine.move_to(T0, tick=False)
    with tenant_context(udn_a):
        event_make(affiliate_make("A-1"), T0)
        time_machine.shift(60)
        lake_export_run(destination=str(tmp_path))

    affiliates = ds.dataset(tmp_path / "affiliates", format="parquet")
    events = ds.dataset(tmp_path / "events", format="parquet")
    assert affiliates.schema.remove_metadata() == AFFILIATE_SCHEMA
    assert events.schema.remove_metadata() == EVENT_SCHEMA
    assert str(AFFILIATE_SCHEMA.field("plan_fee").type) == "decimal128(10, 2)"
    assert str(EVENT_SCHEMA.field("occurred_at").type) == "timestamp[us, tz=UTC]"


def test_events_are_partitioned_by_their_local_date(udn_a, tmp_path, time_machine):
    time_machine.move_to(T0, tick=False)
    with tenant_context(udn_a):
        person = affiliate_make("A-1")
        late_evening = event_make(person, datetime(2026, 3, 10, 1, 30, tzinfo=UTC))  # 09/03 22:30 local
        small_hours = event_make(person, datetime(2026, 3, 10, 4, 0, tzinfo=UTC))  # 10/03 01:00 local
        time_machine.shift(60)
        export = lake_export_run(destination=str(tmp_path))

    assert sorted(f for f in export.files if f.startswith("events/")) == [
        f"events/udn=alpha/date=2026-03-09/part-{export.pk}.parquet",
        f"events/udn=alpha/date=2026-03-10/part-{export.pk}.parquet",
    ]
    dates = {row["id"]: row["date"] for row in read(tmp_path, "events")}
    assert dates == {late_evening.pk: "2026-03-09", small_hours.pk: "2026-03-10"}


def test_second_run_exports_only_what_changed_and_an_untouched_base_nothing(udn_a, tmp_path, time_machine):
    time_machine.move_to(T0, tick=False)
    with tenant_context(udn_a):
        changed = affiliate_make("A-1")
        affiliate_make("A-2")
        event_make(changed, T0)
        time_machine.shift(60)
        first = lake_export_run(destination=str(tmp_path))

        time_machine.move_to(datetime(2026, 3, 11, 15, 0, tzinfo=UTC), tick=False)
        changed.city = "Recife"
        changed.save()
        new_event = event_make(changed, datetime(2026, 3, 11, 14, 0, tzinfo=UTC))
        time_machine.shift(60)
        second = lake_export_run(destination=str(tmp_path))

        time_machine.move_to(datetime(2026, 3, 12, 15, 0, tzinfo=UTC), tick=False)
        third = lake_export_run(destination=str(tmp_path))
        files_before_full = set(tmp_path.rglob("*.parquet"))

        time_machine.move_to(datetime(2026, 3, 13, 15, 0, tzinfo=UTC), tick=False)
        full = lake_export_run(destination=str(tmp_path), full=True)

    assert (first.affiliates, first.events) == (2, 1)
    assert (second.affiliates, second.events) == (1, 1)
    assert sorted(second.files) == [
        f"affiliates/udn=alpha/date=2026-03-11/part-{second.pk}.parquet",
        f"events/udn=alpha/date=2026-03-11/part-{second.pk}.parquet",
    ]
    second_rows = ds.dataset(
        [str(tmp_path / name) for name in second.files if name.startswith("affiliates/")], format="parquet"
    ).to_table()
    assert second_rows.column("external_id").to_pylist() == ["A-1"]
    assert second_rows.column("city").to_pylist() == ["Recife"]
    second_events = ds.dataset(
        [str(tmp_path / name) for name in second.files if name.startswith("events/")], format="parquet"
    ).to_table()
    assert second_events.column("id").to_pylist() == [new_event.pk]

    assert (third.affiliates, third.events, third.files, third.error) == (0, 0, [], "")
    assert third.finished_at is not None
    assert len(files_before_full) == 4  # the untouched run wrote no files
    assert (full.affiliates, full.events) == (2, 2)


def test_watermarks_are_kept_per_destination(udn_a, tmp_path, time_machine):
    time_machine.move_to(T0, tick=False)
    with tenant_context(udn_a):
        affiliate_make("A-1")
        time_machine.shift(60)
        lake_export_run(destination=str(tmp_path / "main"))
        one_off = lake_export_run(destination=str(tmp_path / "elsewhere"))
        again = lake_export_run(destination=str(tmp_path / "main"))

    assert one_off.affiliates == 1  # a first export elsewhere starts from the beginning
    assert again.affiliates == 0


def test_a_failed_export_records_its_error_deletes_its_files_and_is_retried(
    udn_a, tmp_path, time_machine, monkeypatch
):
    time_machine.move_to(T0, tick=False)
    with tenant_context(udn_a):
        event_make(affiliate_make("A-1"), T0)
        time_machine.shift(60)

        def broken(rows, *, slug):
            raise OSError("disk full")

        with monkeypatch.context() as patch:
            patch.setattr(lake_service, "_events_tables", broken)
            with pytest.raises(OSError, match="disk full"):
                lake_export_run(destination=str(tmp_path))
        failed = LakeExport.objects.get()

        time_machine.move_to(datetime(2026, 3, 11, 15, 0, tzinfo=UTC), tick=False)
        retried = lake_export_run(destination=str(tmp_path))

    assert failed.error == "OSError: disk full" and failed.finished_at is not None
    assert failed.files == []
    assert not any(f"part-{failed.pk}." in str(path) for path in tmp_path.rglob("*.parquet"))
    assert (retried.affiliates, retried.events) == (1, 1)


def test_an_open_transaction_holds_the_watermark_back_so_its_rows_are_not_lost(udn_a, tmp_path):
    """A writer that started before the export and commits after it: its row goes out next time."""
    with other_session() as writer, tenant_context(udn_a):
        try:
            with writer.transaction():
                started = writer.execute("SELECT now()").fetchone()[0]
                writer.execute(
                    """INSERT INTO alpha.crm_affiliate (external_id, cpf, name, email, phone, city, state,
                           plan, origin, stage, tier, total_cash_in, time_zone, tags, attributes,
                           consent_email, consent_whatsapp, consent_sms, consent_push, created_at, updated_at)
                       VALUES ('LATE-1', '', 'Late writer', '', '', '', '', '', '', 'lead', '', 0, '',
                           '{}', '{}', false, false, false, false, now(), now())"""
                )
                first = lake_export_run(destination=str(tmp_path))
            second = lake_export_run(destination=str(tmp_path))
        finally:
            writer.execute("DELETE FROM alpha.crm_affiliate WHERE external_id = 'LATE-1'")

    assert first.watermark <= started
    assert first.affiliates == 0  # not visible yet, and newer than the watermark
    exported = ds.dataset(
        [str(tmp_path / name) for name in second.files if name.startswith("affiliates/")], format="parquet"
    ).to_table()
    assert "LATE-1" in exported.column("external_id").to_pylist()


def test_a_transaction_open_too_long_no_longer_holds_the_watermark_back(udn_a, tmp_path, monkeypatch):
    monkeypatch.setattr(lake_service, "STUCK_TRANSACTION", timedelta(0))
    with other_session() as idle, idle.transaction(), tenant_context(udn_a):
        started = idle.execute("SELECT now()").fetchone()[0]
        export = lake_export_run(destination=str(tmp_path))

    assert export.watermark > started


def test_memory_destination_works_through_fsspec(udn_a, time_machine):
    time_machine.move_to(T0, tick=False)
    root = f"memory://lake-test-{uuid.uuid4().hex}"
    filesystem = fsspec.filesystem("memory")
    try:
        with tenant_context(udn_a):
            event_make(affiliate_make("A-1", tags=["mem"]), T0, amount=Decimal("10.00"))
            time_machine.shift(60)
            export = lake_export_run(destination=root)
        _fs, path = fsspec.core.url_to_fs(root)
        affiliates = read(path, "affiliates", filesystem=filesystem)
        events = read(path, "events", filesystem=filesystem)
    finally:
        filesystem.rm(root, recursive=True)

    assert export.destination == root and len(export.files) == 2
    assert [(row["external_id"], row["tags"], row["udn"]) for row in affiliates] == [
        ("A-1", ["mem"], "alpha")
    ]
    assert [row["amount"] for row in events] == [Decimal("10.00")]


def test_export_takes_only_the_current_udns_rows(udn_a, udn_b, tmp_path, time_machine):
    time_machine.move_to(T0, tick=False)
    with tenant_context(udn_b):
        affiliate_make("B-1")
    with tenant_context(udn_a):
        affiliate_make("A-1")
        time_machine.shift(60)
        export = lake_export_run(destination=str(tmp_path))

    assert export.affiliates == 1
    assert [(row["external_id"], row["udn"]) for row in read(tmp_path, "affiliates")] == [("A-1", "alpha")]


def test_destination_password_is_not_recorded():
    shown = lake_service.destination_for_display(destination="s3://key:s3cr3t@bucket/lake")
    assert shown == "s3://key:***@bucket/lake"


def test_command_prints_a_summary_line(udn_a, tmp_path, time_machine):
    time_machine.move_to(T0, tick=False)
    with tenant_context(udn_a):
        person = affiliate_make("A-1")
        event_make(person, T0)
        event_make(person, datetime(2026, 3, 8, 15, 0, tzinfo=UTC))
    time_machine.shift(60)
    out = StringIO()

    call_command("export_lake", "--udn", "alpha", "--destination", str(tmp_path), stdout=out)
    call_command("export_lake", "--udn", "alpha", "--destination", str(tmp_path), "--full", stdout=out)

    lines = out.getvalue().splitlines()
    pattern = r"alpha: (\d+) affiliates, (\d+) events, (\d+) files in [\d.]+ s"
    assert [re.match(pattern, line).groups() for line in lines] == [("1", "2", "3"), ("1", "2", "3")]


def test_task_exports_the_current_udn_and_skips_while_another_export_runs(udn_a, tmp_path, settings):
    settings.LAKE_URL = str(tmp_path)
    with tenant_context(udn_a):
        affiliate_make("A-1")
        done = lake_export()
        with other_session() as other:
            other.execute("SELECT pg_advisory_lock(hashtext('crm.lake_export:alpha'))")
            skipped = lake_export()
            other.execute("SELECT pg_advisory_unlock(hashtext('crm.lake_export:alpha'))")
            after = lake_export()

    assert done["affiliates"] == 1 and done["files"] == 1
    assert skipped == {"skipped": "busy"}
    assert after["affiliates"] == 0
    with tenant_context(udn_a):
        assert LakeExport.objects.count() == 2
        assert LakeExport.objects.get(pk=done["id"]).destination == str(tmp_path)


def test_page_shows_an_empty_state_then_the_exports(udn_a, marketer, client_for, tmp_path):
    client = client_for(udn_a, marketer)
    empty = client.get("/lake/")
    assert empty.status_code == 200
    assert b'data-testid="lake-empty"' in empty.content
    assert b'data-testid="lake-export-now"' in empty.content

    with tenant_context(udn_a):
        affiliate_make("A-1")
        export = lake_export_run(destination=str(tmp_path))
    page = client.get("/lake/").content.decode()
    assert f'data-export-id="{export.pk}"' in page
    assert 'data-status="done"' in page
    assert 'data-testid="lake-empty"' not in page
    assert "hx-trigger" not in page  # nothing running: no polling

    with tenant_context(udn_a):
        LakeExport.objects.create(
            watermark=export.watermark, destination="s3://lake", error="OSError: no bucket"
        )
        LakeExport.objects.create(watermark=export.watermark, destination="s3://lake")
    page = client.get("/lake/").content.decode()
    assert re.findall(r'data-status="(\w+)"', page) == ["running", "failed", "done"]
    assert "OSError: no bucket" in page
    assert 'hx-trigger="every 5s"' in page  # a run in progress refreshes the table


def test_export_now_queues_the_task_after_commit(
    udn_a, marketer, client_for, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(lake_export, "delay", lambda: queued.append(connection.schema_name))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client_for(udn_a, marketer).post("/lake/export/")

    assert response.status_code == 302 and response.url == "/lake/"
    assert len(callbacks) == 1 and queued == ["alpha"]


def test_analysts_see_the_page_without_the_button_and_cannot_export(udn_a, analyst, client_for):
    client = client_for(udn_a, analyst)
    page = client.get("/lake/")
    assert page.status_code == 200
    assert b'data-testid="lake-export-now"' not in page.content
    assert client.post("/lake/export/").status_code == 403


def test_the_page_names_the_storage_but_shows_the_server_path_to_superusers_only(
    udn_a, marketer, analyst, client_for, settings, tmp_path
):
    from tenants.models import User

    settings.LAKE_URL = str(tmp_path / "segredo-do-servidor" / "lake")
    admin = User.objects.create_superuser(email="root@admin.test", password="x-Senha-2026")

    for person in (marketer, analyst):
        page = client_for(udn_a, person).get("/lake/").content.decode()
        assert "segredo-do-servidor" not in page and str(tmp_path) not in page
        assert "uma pasta do servidor" in page
    assert settings.LAKE_URL in client_for(udn_a, admin).get("/lake/").content.decode()

    settings.LAKE_URL = "s3://chave:senha@bucket-interno/lake"
    page = client_for(udn_a, marketer).get("/lake/").content.decode()
    assert "bucket-interno" not in page and "armazenamento s3" in page


def test_readers_survive_an_event_stored_in_year_0001(udn_a, tmp_path, time_machine):
    """Events the API took before its times were bounded (written straight to the table): 1 BC in
    UTC, and year 1 in UTC, which is 1 BC in São Paulo. The export goes through, they land in the
    first day Python can name, and keep their exact time."""
    time_machine.move_to(T0, tick=False)
    with tenant_context(udn_a):
        person = affiliate_make("Y-1", stage_changed_at=T0)
        recent = event_make(person, T0 - timedelta(hours=1))
        with connection.cursor() as cursor:
            for event_id, when in (
                ("y1-bc", "0001-01-01T00:00:00+05:00"),
                ("y1-utc", "0001-01-01T00:00:00Z"),
            ):
                cursor.execute(
                    f"INSERT INTO {Event._meta.db_table}"  # noqa: S608 - model metadata only
                    " (event_id, affiliate_id, type, occurred_at, source, properties, received_at)"
                    " VALUES (%s, %s, 'app_activated', %s::timestamptz, 'api', '{}', %s)",
                    [event_id, person.pk, when, T0 - timedelta(minutes=1)],
                )
            cursor.execute(
                f"UPDATE {Affiliate._meta.db_table} SET stage_changed_at = '0001-01-01T00:00:00+05:00'"  # noqa: S608
                " WHERE id = %s",
                [person.pk],
            )
        time_machine.shift(60)
        export = lake_export_run(destination=str(tmp_path))

    assert export.error == "" and export.events == 3
    assert sorted(f for f in export.files if f.startswith("events/")) == [
        f"events/udn=alpha/date=0001-01-01/part-{export.pk}.parquet",
        f"events/udn=alpha/date=2026-03-10/part-{export.pk}.parquet",
    ]
    table = ds.dataset(f"{tmp_path}/events", format="parquet", partitioning="hive").to_table(
        columns=["event_id", "occurred_at", "date"]
    )
    micros = dict(
        zip(
            table.column("event_id").to_pylist(),
            table.column("occurred_at").cast(pa.int64()).to_pylist(),
            strict=True,
        )
    )
    year_1 = int((datetime(1, 1, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * 10**6
    assert micros == {
        "y1-bc": year_1 - 5 * 3600 * 10**6,
        "y1-utc": year_1,
        recent.event_id: int(recent.occurred_at.timestamp()) * 10**6,
    }
